//! The position probes the `probe` and `locate` examples share: a ridge regression and a
//! nearest-neighbour fingerprint on standardized features, and the median pixel error.

use tch::{Device, Kind, Tensor};

/// Ridge regression on standardized features: weights for `[x | 1]`.
pub struct Ridge {
    mean: Tensor,
    std: Tensor,
    w: Tensor,
}

impl Ridge {
    pub fn fit(x: &Tensor, y: &Tensor, lambda: f64) -> Self {
        let mean = x.mean_dim(0, true, Kind::Float);
        let std = x.std_dim(0, true, true).clamp_min(1e-6);
        let mut r = Self {
            mean,
            std,
            w: Tensor::zeros([1], (Kind::Float, Device::Cpu)),
        };
        let xs = r.with_one(x);
        let (n, d) = (xs.size()[0], xs.size()[1]);
        let reg = Tensor::eye(d, (Kind::Float, Device::Cpu)) * lambda * n as f64;
        let a = xs.transpose(0, 1).matmul(&xs) + reg;
        r.w = Tensor::linalg_solve(&a, &xs.transpose(0, 1).matmul(y), true);
        r
    }

    pub fn predict(&self, x: &Tensor) -> Tensor {
        self.with_one(x).matmul(&self.w)
    }

    fn with_one(&self, x: &Tensor) -> Tensor {
        let xs = (x - &self.mean) / &self.std;
        let n = xs.size()[0];
        Tensor::cat(&[xs, Tensor::ones([n, 1], (Kind::Float, Device::Cpu))], 1)
    }
}

/// The mean position `[N, 2]` of the `k` nearest training rows of each row of `xe`, on
/// features standardized by the training rows' statistics (fingerprinting).
pub fn knn(xt: &Tensor, yt: &Tensor, xe: &Tensor, k: i64) -> Tensor {
    let mean = xt.mean_dim(0, true, Kind::Float);
    let std = xt.std_dim(0, true, true).clamp_min(1e-6);
    let d = Tensor::cdist(
        &((xe - &mean) / &std),
        &((xt - &mean) / &std),
        2.0,
        None::<i64>,
    );
    let (_, idx) = d.topk(k, 1, false, true);
    yt.index_select(0, &idx.reshape([-1]))
        .reshape([-1, k, 2])
        .mean_dim(1, false, Kind::Float)
}

/// Median Euclidean error in pixels of positions `[N, 2]`.
pub fn median_error(pred: &Tensor, y: &Tensor) -> f64 {
    (pred - y)
        .square()
        .sum_dim_intlist(1, false, Kind::Float)
        .sqrt()
        .median()
        .double_value(&[])
}
