//! AdamW (Loshchilov & Hutter) with parameter groups and a state that can be saved and
//! restored, so a resumed run continues with its moments instead of restarting them.
//!
//! libtorch's optimiser behind `tch::COptimizer` keeps its state out of reach of tch; this is
//! the same update as `torch.optim.AdamW` (decoupled weight decay, bias-corrected moments, a
//! step count per parameter, parameters without a gradient skipped), written with in-place
//! tensor ops. The state file is safetensors: `<name>.exp_avg`, `<name>.exp_avg_sq`,
//! `<name>.step` per parameter.

use eyre::{eyre, Context, Result};
use std::collections::HashMap;
use std::path::Path;
use tch::{Kind, Tensor};

/// AdamW hyper-parameters (`torch.optim.AdamW`'s names and defaults except the decay).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to the root of the second moment.
    pub eps: f64,
    /// Decoupled weight decay (multiplied by the learning rate).
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-2,
        }
    }
}

struct Param {
    name: String,
    value: Tensor,
    group: usize,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    step: i64,
}

/// AdamW over named parameters, each in a learning-rate group.
pub struct AdamW {
    config: AdamWConfig,
    params: Vec<Param>,
    lrs: HashMap<usize, f64>,
}

impl AdamW {
    /// An optimiser with no parameters yet.
    pub fn new(config: AdamWConfig) -> Self {
        Self {
            config,
            params: Vec::new(),
            lrs: HashMap::new(),
        }
    }

    /// Adds a parameter under a unique `name` (the key of its state) to learning-rate `group`.
    pub fn add(&mut self, name: impl Into<String>, value: &Tensor, group: usize) -> Result<()> {
        let name = name.into();
        if self.params.iter().any(|p| p.name == name) {
            return Err(eyre!("optimiser: parameter {name} added twice"));
        }
        let zeros = tch::no_grad(|| value.zeros_like());
        self.params.push(Param {
            name,
            value: value.shallow_clone(),
            group,
            exp_avg: zeros.copy(),
            exp_avg_sq: zeros,
            step: 0,
        });
        self.lrs.entry(group).or_insert(0.0);
        Ok(())
    }

    /// Sets the learning rate of `group`.
    pub fn set_lr(&mut self, group: usize, lr: f64) {
        self.lrs.insert(group, lr);
    }

    /// The parameters, in the order they were added.
    pub fn parameters(&self) -> impl Iterator<Item = &Tensor> {
        self.params.iter().map(|p| &p.value)
    }

    /// Clears every parameter's gradient.
    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            let mut g = p.value.grad();
            if g.defined() {
                let _ = g.detach_();
                let _ = g.zero_();
            }
        }
    }

    /// One update of every parameter that has a gradient.
    pub fn step(&mut self) {
        let c = self.config;
        tch::no_grad(|| {
            for p in &mut self.params {
                let g = p.value.grad();
                if !g.defined() {
                    continue;
                }
                let lr = self.lrs.get(&p.group).copied().unwrap_or(0.0);
                p.step += 1;
                let bias1 = 1.0 - c.beta1.powi(p.step as i32);
                let bias2 = 1.0 - c.beta2.powi(p.step as i32);
                if c.weight_decay != 0.0 {
                    let _ = p.value.g_mul_scalar_(1.0 - lr * c.weight_decay);
                }
                let _ = p.exp_avg.lerp_(&g, 1.0 - c.beta1);
                let _ = p.exp_avg_sq.g_mul_scalar_(c.beta2);
                let _ = p.exp_avg_sq.g_add_(&(g.square() * (1.0 - c.beta2)));
                let denom = (&p.exp_avg_sq / bias2).sqrt() + c.eps;
                let _ = p.value.g_sub_(&(&p.exp_avg / denom * (lr / bias1)));
            }
        });
    }

    /// Writes the moments and step counts (atomically: beside, then renamed).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut named: Vec<(String, Tensor)> = Vec::with_capacity(self.params.len() * 3);
        for p in &self.params {
            named.push((format!("{}.exp_avg", p.name), p.exp_avg.shallow_clone()));
            named.push((
                format!("{}.exp_avg_sq", p.name),
                p.exp_avg_sq.shallow_clone(),
            ));
            named.push((format!("{}.step", p.name), Tensor::from(p.step)));
        }
        let tmp = path.with_extension("partial");
        Tensor::write_safetensors(&named, &tmp)
            .wrap_err_with(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).wrap_err_with(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Restores the state written by [`AdamW::save`]. Every parameter must be in the file with
    /// its shape: a state of another model is refused by name, nothing is half-restored.
    pub fn load(&mut self, path: &Path) -> Result<()> {
        let stored: HashMap<String, Tensor> = Tensor::read_safetensors(path)
            .wrap_err_with(|| format!("reading {}", path.display()))?
            .into_iter()
            .collect();
        let get = |key: String, like: &Tensor| -> Result<Tensor> {
            let t = stored
                .get(&key)
                .ok_or_else(|| eyre!("{}: no `{key}`", path.display()))?;
            if t.size() != like.size() {
                return Err(eyre!(
                    "{}: `{key}` has shape {:?}, the parameter {:?}",
                    path.display(),
                    t.size(),
                    like.size()
                ));
            }
            Ok(t.to_kind(like.kind()).to_device(like.device()))
        };
        let mut restored = Vec::with_capacity(self.params.len());
        for p in &self.params {
            let m = get(format!("{}.exp_avg", p.name), &p.exp_avg)?;
            let v = get(format!("{}.exp_avg_sq", p.name), &p.exp_avg_sq)?;
            let step = stored
                .get(&format!("{}.step", p.name))
                .ok_or_else(|| eyre!("{}: no `{}.step`", path.display(), p.name))?
                .to_kind(Kind::Int64)
                .int64_value(&[]);
            restored.push((m, v, step));
        }
        for (p, (m, v, step)) in self.params.iter_mut().zip(restored) {
            tch::no_grad(|| {
                p.exp_avg.copy_(&m);
                p.exp_avg_sq.copy_(&v);
            });
            p.step = step;
        }
        Ok(())
    }
}

/// Dynamic loss scaling for half-precision training (as `torch.cuda.amp.GradScaler`): the loss
/// is multiplied by `scale` before the backward pass so small gradients survive float16; the
/// gradients are divided back before clipping and the update. A step whose gradients overflowed
/// is skipped and the scale halved; after `growth_interval` good steps it doubles.
#[derive(Debug, Clone, PartialEq)]
pub struct GradScaler {
    /// Current loss scale.
    pub scale: f64,
    /// Good steps before the scale grows.
    pub growth_interval: usize,
    good_steps: usize,
}

impl Default for GradScaler {
    fn default() -> Self {
        Self {
            scale: 65536.0,
            growth_interval: 2000,
            good_steps: 0,
        }
    }
}

impl GradScaler {
    /// The loss to call `backward` on.
    pub fn scale_loss(&self, loss: &Tensor) -> Tensor {
        loss * self.scale
    }

    /// Divides the gradients of `params` by the scale; false (and the gradients cleared) when
    /// any is not finite: the caller skips the update. Adjusts the scale either way.
    pub fn unscale<'p>(&mut self, params: impl IntoIterator<Item = &'p Tensor>) -> bool {
        let params: Vec<&Tensor> = params.into_iter().collect();
        let finite = tch::no_grad(|| {
            let mut finite = true;
            for p in &params {
                let mut g = p.grad();
                if g.defined() {
                    let _ = g.g_div_scalar_(self.scale);
                    finite &= g.isfinite().all().int64_value(&[]) == 1;
                }
            }
            finite
        });
        if finite {
            self.good_steps += 1;
            if self.good_steps >= self.growth_interval {
                self.scale *= 2.0;
                self.good_steps = 0;
            }
        } else {
            for p in &params {
                let mut g = p.grad();
                if g.defined() {
                    let _ = g.zero_();
                }
            }
            self.scale = (self.scale / 2.0).max(1.0);
            self.good_steps = 0;
        }
        finite
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn, nn::OptimizerConfig, Device};

    fn quadratic_grad(x: &Tensor, step: i64) -> Tensor {
        // A loss whose minimum moves with the step, so every update differs.
        let target = Tensor::arange(x.numel() as i64, (Kind::Float, Device::Cpu)).reshape(x.size())
            * (0.1 * step as f64);
        (x - target).square().sum(Kind::Float) + x.abs().sum(Kind::Float)
    }

    #[test]
    fn matches_libtorchs_adamw_update_for_update() {
        let config = AdamWConfig {
            weight_decay: 0.05,
            ..AdamWConfig::default()
        };
        tch::manual_seed(3);
        let start = Tensor::randn([4, 3], (Kind::Float, Device::Cpu));
        let vs = nn::VarStore::new(Device::Cpu);
        let theirs = vs.root().var_copy("x", &start);
        let mut torch_opt = nn::AdamW {
            beta1: config.beta1,
            beta2: config.beta2,
            wd: config.weight_decay,
            eps: config.eps,
            amsgrad: false,
        }
        .build(&vs, 0.01)
        .expect("libtorch adamw");
        let ours = start.copy().set_requires_grad(true);
        let mut opt = AdamW::new(config);
        opt.add("x", &ours, 0).expect("add");
        opt.set_lr(0, 0.01);
        for step in 0..25 {
            torch_opt.zero_grad();
            quadratic_grad(&theirs, step).backward();
            torch_opt.step();
            opt.zero_grad();
            quadratic_grad(&ours, step).backward();
            opt.step();
        }
        let diff = (&ours - &theirs).abs().max().double_value(&[]);
        assert!(diff < 1e-5, "differs from libtorch's AdamW by {diff}");
        let moved = (&ours - &start).abs().max().double_value(&[]);
        assert!(moved > 0.05, "the parameters moved ({moved})");
    }

    #[test]
    fn a_resumed_run_continues_exactly_where_it_stopped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("opt.safetensors");
        let start = Tensor::from_slice(&[1.0f32, -2.0, 3.0, 0.5]);
        let run = |steps: std::ops::Range<i64>, x: &Tensor, opt: &mut AdamW| {
            for step in steps {
                opt.zero_grad();
                quadratic_grad(x, step).backward();
                opt.step();
            }
        };
        let make = |x: &Tensor| {
            let mut opt = AdamW::new(AdamWConfig::default());
            opt.add("w", x, 1).expect("add");
            opt.set_lr(1, 0.05);
            opt
        };
        let whole = start.copy().set_requires_grad(true);
        run(0..20, &whole, &mut make(&whole));

        let first = start.copy().set_requires_grad(true);
        let mut opt = make(&first);
        run(0..10, &first, &mut opt);
        opt.save(&state).expect("save");
        let second = tch::no_grad(|| first.copy()).set_requires_grad(true);
        let mut resumed = make(&second);
        resumed.load(&state).expect("load");
        run(10..20, &second, &mut resumed);
        let diff = (&second - &whole).abs().max().double_value(&[]);
        assert!(diff < 1e-7, "resumed run differs by {diff}");

        // Restarted moments would not give the same result: the test can tell.
        let restarted = tch::no_grad(|| first.copy()).set_requires_grad(true);
        run(10..20, &restarted, &mut make(&restarted));
        let gap = (&restarted - &whole).abs().max().double_value(&[]);
        assert!(gap > 1e-4, "fresh moments give a different run ({gap})");
    }

    #[test]
    fn a_state_of_another_model_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("opt.safetensors");
        let a = Tensor::zeros([3], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let mut opt = AdamW::new(AdamWConfig::default());
        opt.add("a", &a, 0).expect("add");
        opt.save(&state).expect("save");
        let b = Tensor::zeros([3], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let mut other = AdamW::new(AdamWConfig::default());
        other.add("b", &b, 0).expect("add");
        let err = other.load(&state).expect_err("refused").to_string();
        assert!(err.contains("b.exp_avg"), "{err}");
        let wide = Tensor::zeros([4], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let mut shaped = AdamW::new(AdamWConfig::default());
        shaped.add("a", &wide, 0).expect("add");
        let err = shaped.load(&state).expect_err("refused").to_string();
        assert!(err.contains("shape"), "{err}");
    }

    #[test]
    fn scaled_gradients_come_back_unscaled_and_overflow_skips_and_backs_off() {
        let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0]).set_requires_grad(true);
        let mut scaler = GradScaler {
            growth_interval: 2,
            ..GradScaler::default()
        };
        let start = scaler.scale;
        scaler.scale_loss(&x.square().sum(Kind::Float)).backward();
        assert!(scaler.unscale([&x]));
        let g: Vec<f32> = Vec::try_from(x.grad()).expect("grad");
        assert_eq!(g, vec![2.0, 4.0, 6.0], "the loss's own gradient");
        assert_eq!(scaler.scale, start, "one good step: no growth yet");

        let _ = x.grad().zero_();
        (x.sum(Kind::Float) * f64::INFINITY).backward();
        assert!(!scaler.unscale([&x]), "overflow detected");
        assert_eq!(scaler.scale, start / 2.0, "backs off");
        let g: Vec<f32> = Vec::try_from(x.grad()).expect("grad");
        assert!(
            g.iter().all(|v| *v == 0.0),
            "no update from an overflowed step"
        );

        for _ in 0..2 {
            let _ = x.grad().zero_();
            scaler.scale_loss(&x.sum(Kind::Float)).backward();
            assert!(scaler.unscale([&x]));
        }
        assert_eq!(
            scaler.scale, start,
            "grows back after growth_interval good steps"
        );
    }
}
