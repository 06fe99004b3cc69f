//! The known-answer test: data hyper-cleaning. D_ft's examples with flipped labels play the
//! harmful ones; a clean D_safe steers the selector, which must rank them last.
//!
//! Everything of the loop is at DESIGN's defaults (effective batch 64 in micro-batches of 8,
//! 3 epochs, the `reference` schedule, N·softmax over all of D_ft, Adam lr 5e-3 on ω). Two
//! settings are the toy's own: the classifier's Adam lr (0.02, not the 1e-5 of a pretrained 8B
//! model: DESIGN section 3 notes that tiny models trained from scratch need larger rates) and
//! its "alignment" (see [`Toy::aligned`]).

use std::sync::Arc;

use seal_core::{
    Algorithm, Bilevel, BilevelConfig, NoopObserver, SelectorOptimizer, SoftmaxScope, auroc, dropped_share,
};

use crate::toy::{Adam, Toy, World, WorldSpec};

/// 4 overlapping Gaussian clusters in 16 dimensions, 400 fine-tuning examples with 30% of the
/// labels flipped, and a clean safe set of 150.
const SPEC: WorldSpec = WorldSpec {
    seed: 2025,
    classes: 4,
    dim: 16,
    n_safe: 150,
    n_ft: 400,
    flip: 0.3,
    separation: 0.6,
};

/// Full-batch Adam steps on D_safe that make the toy's aligned starting model.
const ALIGN_STEPS: usize = 100;

fn aligned_model(world: &Arc<World>) -> Toy {
    Toy::aligned(Arc::clone(world), Adam::default(), ALIGN_STEPS)
}

/// Trains a selector with `config`; returns the AUROC of −logit as a score for "corrupted" and
/// the share of corrupted examples among the 30% dropped.
fn hyperclean(config: BilevelConfig) -> (f64, f64) {
    let world = Arc::new(World::new(SPEC));
    let mut run = Bilevel::new(config, world.ft_ids(), aligned_model(&world)).unwrap();
    run.run(&mut NoopObserver).unwrap();
    let result = run.selection(0.7).unwrap();
    let scores: Vec<f64> = result.logits.iter().map(|&l| -f64::from(l)).collect();
    let auc = auroc(&scores, &world.corrupted).unwrap();
    let dropped = dropped_share(&result.kept, &world.corrupted).unwrap().unwrap();
    (auc, dropped)
}

/// `loss-rank` (DESIGN section 5): the aligned model's own loss as the score, no training.
fn loss_rank_auroc() -> f64 {
    let world = Arc::new(World::new(SPEC));
    auroc(&aligned_model(&world).ft_losses(), &world.corrupted).unwrap()
}

fn alg1() -> Algorithm {
    Algorithm::Alg1 {
        inner_steps: 1,
        keep_penalty_factor: false,
    }
}

#[test]
fn alg2_ranks_flipped_labels_last_with_default_settings() {
    let (auc, dropped) = hyperclean(BilevelConfig::default());
    eprintln!(
        "alg2: auroc {auc:.4}, corrupted share of dropped {dropped:.3} (loss-rank auroc {:.4})",
        loss_rank_auroc()
    );
    assert!(auc >= 0.9, "alg2 auroc {auc}");
    assert!(dropped >= 0.8, "alg2 dropped share {dropped}");
}

#[test]
fn alg1_ranks_flipped_labels_last_with_default_settings() {
    let (auc, dropped) = hyperclean(BilevelConfig {
        algorithm: alg1(),
        ..BilevelConfig::default()
    });
    eprintln!("alg1: auroc {auc:.4}, corrupted share of dropped {dropped:.3}");
    assert!(auc >= 0.9, "alg1 auroc {auc}");
    assert!(dropped >= 0.8, "alg1 dropped share {dropped}");
}

#[test]
fn selector_options_also_rank_flipped_labels_low() {
    // SGD's lr has no default (its scale follows the losses): 10 is mid-range on this toy, where
    // 1 to 1000 all give about the same ranking.
    let sgd = SelectorOptimizer::Sgd {
        lr: 10.0,
        clip_norm: 10.0,
    };
    for (name, algorithm) in [("alg2", Algorithm::Alg2 {}), ("alg1", alg1())] {
        for (option, selector_optimizer, softmax_scope) in [
            ("sgd", sgd.clone(), SoftmaxScope::Global),
            ("batch scope", SelectorOptimizer::default(), SoftmaxScope::Batch),
        ] {
            let (auc, _) = hyperclean(BilevelConfig {
                algorithm,
                selector_optimizer,
                softmax_scope,
                ..BilevelConfig::default()
            });
            eprintln!("{name} {option}: auroc {auc:.4}");
            // A looser bar than the defaults': alg1 with sgd sits just under 0.9 here.
            assert!(auc >= 0.85, "{name} {option}: auroc {auc}");
        }
    }
}
