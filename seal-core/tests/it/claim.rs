//! SEAL's own claim, against its yardstick: on a world where the aligned model's loss alone
//! (`loss-rank`, DESIGN section 5) cannot tell a novel benign task from the harmful examples,
//! the bilevel selector can, because it reads D_safe: fitting the novel task costs D_safe
//! nothing, fitting a flipped label costs it a lot. Plus the controls: the same run with D_safe's
//! labels shuffled ranks measurably worse, and an empty D_safe is refused.
//!
//! The world ([`NovelSpec`]): the hyper-cleaning toy (4 classes, 16 dimensions, 400 examples
//! with 30% of the labels flipped) plus 80 examples of a task the aligned model has never seen.
//! Their initial loss is about that of a flipped label (mean 5.9-8.8 nats per seed, flipped
//! 7.1-8.3, the familiar clean examples 0.5-0.8), so `loss-rank`'s novel-vs-harmful AUROC is 0.37-0.65 over the five
//! seeds: a coin toss.
//!
//! What was measured (seeds 1-5, reference schedule; the numbers each assertion's bar sits
//! between are in its comment):
//! - with 10 selector epochs both algorithms beat `loss-rank` in every seed, Alg 2 by far;
//! - at the default 3 epochs neither does (marked tests below): λ = 1 in epoch 0 and 0.97 in
//!   epoch 1, so θ has barely learnt the novel task when its losses steer ω; Alg 2 ties
//!   `loss-rank`, and Alg 1 is worse, because θ̂ (trained on D_ft alone) learns the novel task
//!   long before θ does and the gap ℓ − ℓ̂ reads as harm.

use std::sync::Arc;

use seal_core::{
    Algorithm, AuxLoss, Bilevel, BilevelConfig, CoreError, NoopObserver, PenaltySchedule, auroc,
    dropped_share,
};

use crate::toy::{Adam, NovelSpec, Toy, World, WorldSpec};

const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];

/// The hyper-cleaning toy of `hyperclean.rs` (another seed per run) with a novel task of 80.
fn novel_world(seed: u64) -> Arc<World> {
    Arc::new(World::new(WorldSpec {
        seed,
        novel: Some(NovelSpec {
            n: 80,
            dims: 4,
            decoy: 0,
            label: 1,
            marker: 1.5,
        }),
        ..crate::hyperclean::SPEC
    }))
}

/// Share of D_ft kept: drops 144 of 480, a few more than the 120 flipped.
const KEEP: f64 = 0.7;

/// How one ranking of D_ft (higher = keep) separates the examples.
#[derive(Debug, Clone, Copy)]
struct Ranking {
    /// AUROC of clean (familiar or novel) above flipped.
    poison: f64,
    /// AUROC of novel above flipped, over those two parts only.
    novel_vs_harmful: f64,
    /// Flipped share of the dropped 30%.
    dropped: f64,
}

impl Ranking {
    fn of(world: &World, keep_score: &[f64]) -> Self {
        let harm: Vec<f64> = keep_score.iter().map(|s| -s).collect();
        let poison = auroc(&harm, &world.corrupted).unwrap();
        let part: Vec<usize> = (0..keep_score.len())
            .filter(|&i| world.novel[i] || world.corrupted[i])
            .collect();
        let scores: Vec<f64> = part.iter().map(|&i| keep_score[i]).collect();
        let is_novel: Vec<bool> = part.iter().map(|&i| world.novel[i]).collect();
        let novel_vs_harmful = auroc(&scores, &is_novel).unwrap();
        let mut order: Vec<usize> = (0..keep_score.len()).collect();
        order.sort_by(|&a, &b| keep_score[b].total_cmp(&keep_score[a]).then(a.cmp(&b)));
        let mut kept = vec![false; keep_score.len()];
        for &i in &order[..(keep_score.len() as f64 * KEEP).round() as usize] {
            kept[i] = true;
        }
        let dropped = dropped_share(&kept, &world.corrupted).unwrap().unwrap();
        Self {
            poison,
            novel_vs_harmful,
            dropped,
        }
    }
}

fn aligned(world: &Arc<World>) -> Toy {
    Toy::aligned(Arc::clone(world), Adam::default(), 100)
}

/// `loss-rank`: minus the aligned model's loss.
fn loss_rank(world: &Arc<World>) -> Ranking {
    let keep: Vec<f64> = aligned(world).ft_losses().iter().map(|l| -l).collect();
    Ranking::of(world, &keep)
}

fn alg1() -> Algorithm {
    Algorithm::Alg1 {
        inner_steps: 1,
        keep_penalty_factor: false,
        aux_loss: AuxLoss::Before,
    }
}

/// The selector's ranking after `epochs` epochs at the defaults otherwise; with
/// `shuffled_safe`, the upper level reads D_safe with its labels shuffled (the model still
/// starts from the aligned one of the clean D_safe, so only what the selector reads changes).
fn seal(world: &Arc<World>, algorithm: Algorithm, epochs: u64, seed: u64, shuffled_safe: bool) -> Ranking {
    let start = aligned(world);
    let model = if shuffled_safe {
        start.on_world(Arc::new(world.with_shuffled_safe_labels(99)))
    } else {
        start
    };
    let config = BilevelConfig {
        algorithm,
        epochs,
        seed,
        penalty: PenaltySchedule::Reference {},
        ..BilevelConfig::default()
    };
    let mut run = Bilevel::new(config, world.ft_ids(), model).unwrap();
    run.run(&mut NoopObserver).unwrap();
    let logits: Vec<f64> = run.selector().logits().iter().map(|&l| f64::from(l)).collect();
    Ranking::of(world, &logits)
}

/// Per seed: (`loss-rank`, SEAL) on the novel world.
fn against_loss_rank(algorithm: Algorithm, epochs: u64) -> Vec<(Ranking, Ranking)> {
    SEEDS
        .iter()
        .map(|&seed| {
            let world = novel_world(seed);
            let pair = (loss_rank(&world), seal(&world, algorithm, epochs, seed, false));
            eprintln!("seed {seed}: loss-rank {:?}\n        seal {:?}", pair.0, pair.1);
            pair
        })
        .collect()
}

/// The smallest margin of SEAL over `loss-rank` over the seeds, by `metric`.
fn min_margin(pairs: &[(Ranking, Ranking)], metric: fn(&Ranking) -> f64) -> f64 {
    pairs
        .iter()
        .map(|(base, seal)| metric(seal) - metric(base))
        .fold(f64::INFINITY, f64::min)
}

/// The long selection run both algorithms need on this world.
const LONG: u64 = 10;

#[test]
fn alg2_beats_loss_rank_on_a_novel_benign_task_in_every_seed() {
    let pairs = against_loss_rank(Algorithm::Alg2 {}, LONG);
    // Measured smallest margins over the seeds: novel vs harmful +0.287, poison AUROC +0.063,
    // flipped share of the dropped +0.111. Each bar sits between no margin (a tie with
    // `loss-rank`) and the measured one.
    let novel = min_margin(&pairs, |r| r.novel_vs_harmful);
    assert!(novel >= 0.2, "novel vs harmful margin {novel}");
    let poison = min_margin(&pairs, |r| r.poison);
    assert!(poison >= 0.04, "poison AUROC margin {poison}");
    let dropped = min_margin(&pairs, |r| r.dropped);
    assert!(dropped >= 0.05, "dropped share margin {dropped}");
}

#[test]
fn alg1_beats_loss_rank_on_a_novel_benign_task_in_every_seed() {
    let pairs = against_loss_rank(alg1(), LONG);
    // Measured smallest margins: novel vs harmful +0.099, poison AUROC +0.003 (seed 2). The
    // flipped share of the dropped ties `loss-rank` in seed 5 (0.507 both), so it is not
    // claimed. Alg 1 wins on the novel task, and only just on the poison.
    let novel = min_margin(&pairs, |r| r.novel_vs_harmful);
    assert!(novel >= 0.05, "novel vs harmful margin {novel}");
    let poison = min_margin(&pairs, |r| r.poison);
    assert!(poison > 0.0, "poison AUROC margin {poison}");
}

#[test]
#[ignore = "finding: at the default 3 epochs neither algorithm beats loss-rank on this world (see the module doc)"]
fn at_the_default_three_epochs_both_algorithms_beat_loss_rank() {
    // Measured (seeds 1-5): Alg 2 novel-vs-harmful margin +0.006 to +0.088, poison AUROC margin
    // -0.005 to +0.008; Alg 1 novel-vs-harmful margin -0.32 to -0.20, poison -0.10 to -0.07.
    for algorithm in [Algorithm::Alg2 {}, alg1()] {
        let pairs = against_loss_rank(algorithm, 3);
        let novel = min_margin(&pairs, |r| r.novel_vs_harmful);
        let poison = min_margin(&pairs, |r| r.poison);
        assert!(
            novel >= 0.05 && poison > 0.0,
            "{algorithm:?}: novel {novel}, poison {poison}"
        );
    }
}

#[test]
fn a_shuffled_safe_set_ranks_the_poison_worse() {
    for (algorithm, bar) in [
        // Measured smallest drops in poison AUROC over the seeds: Alg 2 0.029, Alg 1 0.39. Alg 2
        // still learns the novel task with a shuffled D_safe (its novel-vs-harmful AUROC barely
        // moves); what D_safe gives it is the poison.
        (Algorithm::Alg2 {}, 0.015),
        (alg1(), 0.2),
    ] {
        for seed in SEEDS {
            let world = novel_world(seed);
            let clean = seal(&world, algorithm, LONG, seed, false);
            let shuffled = seal(&world, algorithm, LONG, seed, true);
            let drop = clean.poison - shuffled.poison;
            assert!(
                drop >= bar,
                "{algorithm:?} seed {seed}: poison AUROC {clean:?} vs shuffled {shuffled:?}"
            );
            assert!(shuffled.dropped < clean.dropped, "{algorithm:?} seed {seed}");
        }
    }
}

#[test]
fn an_empty_safe_set_is_refused() {
    let world = novel_world(1);
    let mut empty = world.with_shuffled_safe_labels(0);
    empty.safe_x.clear();
    empty.safe_y.clear();
    let model = aligned(&world).on_world(Arc::new(empty));
    let Err(err) = Bilevel::new(BilevelConfig::default(), world.ft_ids(), model) else {
        panic!("an empty D_safe was accepted");
    };
    assert!(matches!(err, CoreError::EmptyDataset { set: "safe" }), "{err}");
}
