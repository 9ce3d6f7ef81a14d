//! The dominant changes of a window: its first right singular vectors once its mean is removed.

use num_complex::Complex32;

/// One change of a window: its direction over the values (links x subcarriers) and its power.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    /// Unit vector over the window's values, link-major (`l * n_sub + k`), in the rows' phase.
    pub vector: Vec<Complex32>,
    /// Its share of the window's change power (singular value squared over the total).
    pub share: f32,
}

/// Power iterations per signature: the Gram matrix is small and its first eigenvalues are
/// well apart for a moving person, so this converges far below the map's resolution.
const ITERATIONS: usize = 60;

/// The `k` strongest changes of `x` (`[time][values]`, row-major, `t` rows), found as the
/// eigenvectors of the `t x t` Gram matrix of the mean-removed window (power iteration with
/// deflation), strongest first. Fewer when the window has no change left (a still room).
pub fn signatures(x: &[Complex32], t: usize, k: usize) -> Vec<Signature> {
    if t < 2 || x.is_empty() || !x.len().is_multiple_of(t) {
        return Vec::new();
    }
    let m = x.len() / t;
    let mut mean = vec![Complex32::new(0.0, 0.0); m];
    for row in x.chunks_exact(m) {
        for (a, v) in mean.iter_mut().zip(row) {
            *a += v;
        }
    }
    let n = t as f32;
    mean.iter_mut().for_each(|a| *a /= n);
    let d: Vec<Complex32> = x
        .chunks_exact(m)
        .flat_map(|row| row.iter().zip(&mean).map(|(v, a)| v - a))
        .collect();
    // G = D D^H, t x t, Hermitian.
    let mut g = vec![Complex32::new(0.0, 0.0); t * t];
    for i in 0..t {
        let ri = &d[i * m..(i + 1) * m];
        for j in i..t {
            let rj = &d[j * m..(j + 1) * m];
            let s: Complex32 = ri.iter().zip(rj).map(|(a, b)| a * b.conj()).sum();
            g[i * t + j] = s;
            g[j * t + i] = s.conj();
        }
    }
    let total: f32 = (0..t).map(|i| g[i * t + i].re).sum();
    if !(total > 0.0 && total.is_finite()) {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(k);
    for _ in 0..k {
        let Some((lambda, u)) = top_eigen(&g, t) else {
            break;
        };
        if lambda <= total * 1e-6 {
            break;
        }
        // The rows' common direction u^H D / sigma (the first row of V^H in D = U S V^H): a
        // change that puts phase phi on value j has phase phi here, not its conjugate.
        let sigma = lambda.sqrt();
        let mut v = vec![Complex32::new(0.0, 0.0); m];
        for (row, ui) in d.chunks_exact(m).zip(&u) {
            for (vj, dj) in v.iter_mut().zip(row) {
                *vj += dj * ui.conj();
            }
        }
        v.iter_mut().for_each(|a| *a /= sigma);
        out.push(Signature {
            vector: v,
            share: lambda / total,
        });
        // Deflate: G -= lambda u u^H.
        for i in 0..t {
            for j in 0..t {
                g[i * t + j] -= u[i] * u[j].conj() * lambda;
            }
        }
    }
    out
}

/// The largest eigenvalue and its unit eigenvector of a Hermitian positive semi-definite matrix.
fn top_eigen(g: &[Complex32], t: usize) -> Option<(f32, Vec<Complex32>)> {
    // Start from the strongest column: never orthogonal to the top eigenvector in practice.
    let start = (0..t).max_by(|&a, &b| g[a * t + a].re.total_cmp(&g[b * t + b].re))?;
    let mut u: Vec<Complex32> = (0..t).map(|i| g[i * t + start]).collect();
    let mut lambda = 0.0;
    for _ in 0..ITERATIONS {
        let norm = u.iter().map(|v| v.norm_sqr()).sum::<f32>().sqrt();
        if !(norm > 0.0 && norm.is_finite()) {
            return None;
        }
        u.iter_mut().for_each(|v| *v /= norm);
        let w: Vec<Complex32> = (0..t)
            .map(|i| {
                g[i * t..(i + 1) * t]
                    .iter()
                    .zip(&u)
                    .map(|(a, b)| a * b)
                    .sum()
            })
            .collect();
        lambda = w.iter().zip(&u).map(|(a, b)| (a * b.conj()).re).sum();
        u = w;
    }
    let norm = u.iter().map(|v| v.norm_sqr()).sum::<f32>().sqrt();
    if !(norm > 0.0 && norm.is_finite()) {
        return None;
    }
    u.iter_mut().for_each(|v| *v /= norm);
    Some((lambda, u))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn c(re: f32, im: f32) -> Complex32 {
        Complex32::new(re, im)
    }

    #[test]
    fn the_strongest_change_is_found_with_its_share() {
        // Two changes along orthogonal directions with powers 9:1, on a constant.
        let t = 40;
        let a = [c(1.0, 0.0), c(0.0, 1.0), c(0.0, 0.0), c(0.0, 0.0)];
        let b = [c(0.0, 0.0), c(0.0, 0.0), c(1.0, 0.0), c(-1.0, 0.0)];
        let norm = 2f32.sqrt();
        let mut x = Vec::new();
        for i in 0..t {
            let s = if i % 2 == 0 { 3.0 } else { -3.0 };
            let r = if (i / 2) % 2 == 0 { 1.0 } else { -1.0 };
            for j in 0..4 {
                x.push(c(5.0, 1.0) + a[j] * (s / norm) + b[j] * (r / norm));
            }
        }
        let sig = signatures(&x, t, 3);
        assert_eq!(sig.len(), 2, "a third change does not exist");
        assert!((sig[0].share - 0.9).abs() < 1e-3, "{}", sig[0].share);
        assert!((sig[1].share - 0.1).abs() < 1e-3, "{}", sig[1].share);
        // Up to a phase, the first is along `a`.
        let dot: Complex32 = sig[0]
            .vector
            .iter()
            .zip(&a)
            .map(|(v, w)| v * w.conj())
            .sum();
        assert!((dot.norm() - norm).abs() < 1e-3, "{dot}");
    }

    #[test]
    fn a_still_window_has_no_signature() {
        let x = vec![c(1.0, 2.0); 50 * 6];
        assert!(signatures(&x, 50, 2).is_empty());
        assert!(signatures(&[], 10, 1).is_empty());
    }
}
