//! A multinomial logistic-regression classifier with hand-written gradients and its own Adam,
//! implementing [`BilevelModel`], and a seeded world of Gaussian clusters with flipped labels.

use std::fmt;
use std::sync::Arc;

use seal_core::{BilevelModel, ExampleId, MicroBatch, MicroLosses};

/// splitmix64 with Box–Muller normals.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x5EA1_5EA1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// D_safe (clean) and D_ft (a share of labels flipped to another class).
pub struct World {
    pub dim: usize,
    pub classes: usize,
    pub safe_x: Vec<Vec<f64>>,
    pub safe_y: Vec<usize>,
    pub ft_x: Vec<Vec<f64>>,
    pub ft_y: Vec<usize>,
    /// Whether ft example i had its label flipped.
    pub corrupted: Vec<bool>,
    /// Whether ft example i belongs to the novel task ([`NovelSpec`]).
    pub novel: Vec<bool>,
}

/// Shape of a [`World`].
#[derive(Debug, Clone, Copy)]
pub struct WorldSpec {
    pub seed: u64,
    pub classes: usize,
    pub dim: usize,
    pub n_safe: usize,
    pub n_ft: usize,
    /// Share of D_ft whose label is flipped.
    pub flip: f64,
    /// Scale of the class means (noise has unit variance per dimension).
    pub separation: f64,
    /// A clean but unfamiliar task appended to D_ft, if any.
    pub novel: Option<NovelSpec>,
}

/// A benign task the aligned model has never seen: examples that look like class `decoy` in the
/// familiar dimensions but carry a marker in `dims` extra dimensions (zero for every other
/// example, D_safe included) and the label `label`, consistently. The aligned model confidently
/// calls them `decoy`, so their initial loss is as high as a flipped label's and `loss-rank` drops
/// them; yet they can be learned through the marker weights alone, which no safe example's
/// gradient touches, so fitting them costs D_safe nothing. (The toy's picture of an LLM's novel
/// benign task: a prompt format it has a strong prior about, asking for something new.)
#[derive(Debug, Clone, Copy)]
pub struct NovelSpec {
    pub n: usize,
    pub dims: usize,
    pub decoy: usize,
    pub label: usize,
    /// Scale of the marker's mean (unit noise per marker dimension, as elsewhere).
    pub marker: f64,
}

impl World {
    pub fn new(spec: WorldSpec) -> Self {
        let mut rng = Rng::new(spec.seed);
        let means: Vec<Vec<f64>> = (0..spec.classes)
            .map(|_| (0..spec.dim).map(|_| spec.separation * rng.normal()).collect())
            .collect();
        let draw = |n: usize, rng: &mut Rng| -> (Vec<Vec<f64>>, Vec<usize>) {
            (0..n)
                .map(|_| {
                    let y = rng.below(spec.classes);
                    let x = means[y].iter().map(|m| m + rng.normal()).collect();
                    (x, y)
                })
                .unzip()
        };
        let (safe_x, safe_y) = draw(spec.n_safe, &mut rng);
        let (ft_x, mut ft_y) = draw(spec.n_ft, &mut rng);
        // Flip exactly ⌊flip·N⌋ labels, chosen by a seeded shuffle, each to another class.
        let mut order: Vec<usize> = (0..spec.n_ft).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let mut corrupted = vec![false; spec.n_ft];
        for &i in &order[..(spec.flip * spec.n_ft as f64) as usize] {
            ft_y[i] = (ft_y[i] + 1 + rng.below(spec.classes - 1)) % spec.classes;
            corrupted[i] = true;
        }
        let mut world = Self {
            dim: spec.dim,
            classes: spec.classes,
            safe_x,
            safe_y,
            novel: vec![false; spec.n_ft],
            ft_x,
            ft_y,
            corrupted,
        };
        // Drawn last, so a spec without a novel task gives the same world as before it existed.
        if let Some(novel) = spec.novel {
            world.add_novel(novel, &means, &mut rng);
        }
        world
    }

    fn add_novel(&mut self, spec: NovelSpec, means: &[Vec<f64>], rng: &mut Rng) {
        assert!(spec.decoy != spec.label && spec.label < self.classes);
        for x in self.safe_x.iter_mut().chain(&mut self.ft_x) {
            x.resize(self.dim + spec.dims, 0.0);
        }
        let marker: Vec<f64> = (0..spec.dims).map(|_| spec.marker * rng.normal()).collect();
        for _ in 0..spec.n {
            let x = means[spec.decoy].iter().chain(&marker).map(|m| m + rng.normal());
            self.ft_x.push(x.collect());
            self.ft_y.push(spec.label);
            self.corrupted.push(false);
            self.novel.push(true);
        }
        self.dim += spec.dims;
    }

    /// The same world with D_safe's labels shuffled (seeded): a safe set that no longer says
    /// which labels are right.
    pub fn with_shuffled_safe_labels(&self, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut safe_y = self.safe_y.clone();
        for i in (1..safe_y.len()).rev() {
            safe_y.swap(i, rng.below(i + 1));
        }
        Self {
            dim: self.dim,
            classes: self.classes,
            safe_x: self.safe_x.clone(),
            safe_y,
            ft_x: self.ft_x.clone(),
            ft_y: self.ft_y.clone(),
            corrupted: self.corrupted.clone(),
            novel: self.novel.clone(),
        }
    }

    pub fn ft_ids(&self) -> Vec<ExampleId> {
        (0..self.ft_x.len())
            .map(|i| ExampleId(format!("ft{i:04}")))
            .collect()
    }
}

/// The toy's own error.
#[derive(Debug)]
pub struct ToyError(pub String);

impl fmt::Display for ToyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ToyError {}

/// What one `accumulate` call was given.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub safe: Vec<usize>,
    pub ft: Vec<usize>,
    pub ft_weights: Vec<f32>,
    pub safe_coef: f64,
    pub ft_coef: f64,
}

/// Test hooks that make the model misbehave from a given `accumulate` call (0-based) on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// The first fine-tuning loss of the call is NaN.
    NanLoss { from_call: usize },
    /// The call returns an error.
    Error { from_call: usize },
}

/// The model's Adam (DESIGN section 3's β and clip; the lr is the toy's, see `aligned`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub clip: f64,
}

impl Default for Adam {
    fn default() -> Self {
        Self {
            lr: 0.02,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            clip: 1.0,
        }
    }
}

/// Softmax regression z = W·x + b, f64 throughout; `params` holds W row-major, then b.
#[derive(Clone)]
pub struct Toy {
    world: Arc<World>,
    pub params: Vec<f64>,
    grad: Vec<f64>,
    m: Vec<f64>,
    v: Vec<f64>,
    /// Adam steps taken.
    pub t: u64,
    pub adam: Adam,
    /// Every `accumulate` call, in order.
    pub calls: Vec<Call>,
    pub fault: Option<Fault>,
}

impl Toy {
    /// All-zero parameters.
    pub fn new(world: Arc<World>, adam: Adam) -> Self {
        let n = world.classes * (world.dim + 1);
        Self {
            world,
            params: vec![0.0; n],
            grad: vec![0.0; n],
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
            adam,
            calls: Vec::new(),
            fault: None,
        }
    }

    /// The "aligned model" SEAL starts from: `steps` full-batch Adam steps on D_safe. Without it
    /// the first epoch's selector steps would read the losses of an untrained model (all ≈ ln K),
    /// i.e. noise, which Adam turns into full-size steps; an LLM user always starts aligned.
    pub fn aligned(world: Arc<World>, adam: Adam, steps: usize) -> Self {
        let mut toy = Self::new(world, adam);
        let all: Vec<usize> = (0..toy.world.safe_x.len()).collect();
        for _ in 0..steps {
            toy.accumulate(&MicroBatch {
                safe: &all,
                ft: &[],
                ft_weights: &[],
                safe_coef: 1.0,
                ft_coef: 0.0,
            })
            .expect("valid indices");
            toy.apply().expect("no fault set");
        }
        toy.calls.clear();
        toy
    }

    /// Adds `coef`·∇ℓ(x, y) to the gradient and returns ℓ(x, y) = −log softmax(Wx + b)_y.
    fn example(&mut self, x: &[f64], y: usize, coef: f64) -> f64 {
        let (k, d) = (self.world.classes, self.world.dim);
        let z: Vec<f64> = (0..k)
            .map(|c| {
                let row = &self.params[c * d..(c + 1) * d];
                row.iter().zip(x).map(|(w, x)| w * x).sum::<f64>() + self.params[k * d + c]
            })
            .collect();
        let max = z.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        let log_z = max + z.iter().map(|&v| (v - max).exp()).sum::<f64>().ln();
        for (c, &zc) in z.iter().enumerate() {
            // ∂ℓ/∂z_c = softmax_c − [c = y]
            let dz = coef * ((zc - log_z).exp() - f64::from(c == y));
            for (g, &xi) in self.grad[c * d..(c + 1) * d].iter_mut().zip(x) {
                *g += dz * xi;
            }
            self.grad[k * d + c] += dz;
        }
        log_z - z[y]
    }

    /// This model (parameters and optimizer state) reading `world` instead: a world of the same
    /// shape with other data, e.g. [`World::with_shuffled_safe_labels`].
    pub fn on_world(&self, world: Arc<World>) -> Self {
        assert_eq!((world.dim, world.classes), (self.world.dim, self.world.classes));
        Self {
            world,
            ..self.clone()
        }
    }

    /// Per-example losses of D_ft under the current parameters (no gradient kept).
    pub fn ft_losses(&self) -> Vec<f64> {
        let mut probe = self.clone();
        (0..self.world.ft_x.len())
            .map(|i| {
                let x = self.world.ft_x[i].clone();
                probe.example(&x, self.world.ft_y[i], 0.0)
            })
            .collect()
    }
}

impl BilevelModel for Toy {
    type Error = ToyError;

    fn safe_len(&self) -> usize {
        self.world.safe_x.len()
    }

    fn ft_len(&self) -> usize {
        self.world.ft_x.len()
    }

    fn accumulate(&mut self, batch: &MicroBatch<'_>) -> Result<MicroLosses, ToyError> {
        let call = self.calls.len();
        self.calls.push(Call {
            safe: batch.safe.to_vec(),
            ft: batch.ft.to_vec(),
            ft_weights: batch.ft_weights.to_vec(),
            safe_coef: batch.safe_coef,
            ft_coef: batch.ft_coef,
        });
        if let Some(Fault::Error { from_call }) = self.fault
            && call >= from_call
        {
            return Err(ToyError(format!("injected failure at call {call}")));
        }
        let world = Arc::clone(&self.world);
        let mut losses = MicroLosses::default();
        for &j in batch.safe {
            let x = world.safe_x.get(j).ok_or(ToyError(format!("no safe {j}")))?;
            let coef = batch.safe_coef / batch.safe.len() as f64;
            losses.safe.push(self.example(x, world.safe_y[j], coef) as f32);
        }
        for (&i, &w) in batch.ft.iter().zip(batch.ft_weights) {
            let x = world.ft_x.get(i).ok_or(ToyError(format!("no ft {i}")))?;
            let coef = batch.ft_coef * f64::from(w) / batch.ft.len() as f64;
            losses.ft.push(self.example(x, world.ft_y[i], coef) as f32);
        }
        if let Some(Fault::NanLoss { from_call }) = self.fault
            && call >= from_call
        {
            losses.ft[0] = f32::NAN;
        }
        Ok(losses)
    }

    fn apply(&mut self) -> Result<(), ToyError> {
        let a = self.adam;
        let norm = self.grad.iter().map(|g| g * g).sum::<f64>().sqrt();
        let scale = (a.clip / (norm + 1e-6)).min(1.0);
        self.t += 1;
        let t = self.t as f64;
        let (c1, c2) = (1.0 - a.beta1.powf(t), 1.0 - a.beta2.powf(t));
        for k in 0..self.params.len() {
            let g = self.grad[k] * scale;
            self.m[k] = a.beta1 * self.m[k] + (1.0 - a.beta1) * g;
            self.v[k] = a.beta2 * self.v[k] + (1.0 - a.beta2) * g * g;
            self.params[k] -= a.lr * (self.m[k] / c1) / ((self.v[k] / c2).sqrt() + a.eps);
            self.grad[k] = 0.0;
        }
        Ok(())
    }

    fn fork(&self) -> Result<Self, ToyError> {
        let mut fork = Self::new(Arc::clone(&self.world), self.adam);
        fork.params = self.params.clone();
        Ok(fork)
    }
}
