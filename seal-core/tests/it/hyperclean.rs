//! The known-answer test: data hyper-cleaning. D_ft's examples with flipped labels play the
//! harmful ones; a clean D_safe steers the selector, which must rank them last.
//!
//! Everything of the loop is at DESIGN's defaults (effective batch 64 in micro-batches of 8,
//! 3 epochs, the `reference` schedule, N·softmax over all of D_ft, Adam lr 5e-3 on ω). Two
//! settings are the toy's own: the classifier's Adam lr (0.02, not the 1e-5 of a pretrained 8B
//! model: DESIGN section 3 notes that tiny models trained from scratch need larger rates) and
//! its "alignment" (see [`Toy::aligned`]).
//!
//! This world is `loss-rank`'s home ground: a flipped label is exactly what the aligned model
//! finds costly, so the aligned model's loss alone reaches AUROC 0.983, above both algorithms
//! (marked below). The bars here show that the loop ranks flipped labels low and that it reads
//! D_safe to do so; SEAL's claim over `loss-rank` is tested where the loss alone fails, in
//! `claim.rs`.

use std::sync::Arc;

use seal_core::{
    Algorithm, AuxLoss, Bilevel, BilevelConfig, NoopObserver, SelectorOptimizer, SoftmaxScope, auroc,
    dropped_share,
};

use crate::toy::{Adam, Toy, World, WorldSpec};

/// 4 overlapping Gaussian clusters in 16 dimensions, 400 fine-tuning examples with 30% of the
/// labels flipped, and a clean safe set of 150.
pub(crate) const SPEC: WorldSpec = WorldSpec {
    seed: 2025,
    classes: 4,
    dim: 16,
    n_safe: 150,
    n_ft: 400,
    flip: 0.3,
    separation: 0.6,
    novel: None,
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
    let scores: Vec<f64> = result.selection.candidates().iter().map(|c| -c.score).collect();
    let auc = auroc(&scores, &world.corrupted).unwrap();
    let dropped = dropped_share(&result.selection.kept_flags(), &world.corrupted)
        .unwrap()
        .unwrap();
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
        aux_loss: AuxLoss::Before,
    }
}

/// The same run with D_safe's labels shuffled for the upper level (the model still starts
/// from the clean D_safe's aligned one): the poison AUROC of −logit.
fn hyperclean_with_shuffled_safe(config: BilevelConfig) -> f64 {
    let world = Arc::new(World::new(SPEC));
    let model = aligned_model(&world).on_world(Arc::new(world.with_shuffled_safe_labels(99)));
    let mut run = Bilevel::new(config, world.ft_ids(), model).unwrap();
    run.run(&mut NoopObserver).unwrap();
    let scores: Vec<f64> = run.selector().logits().iter().map(|&l| -f64::from(l)).collect();
    auroc(&scores, &world.corrupted).unwrap()
}

#[test]
fn alg2_ranks_flipped_labels_last_with_default_settings() {
    let (auc, dropped) = hyperclean(BilevelConfig::default());
    eprintln!("alg2: auroc {auc:.4}, corrupted share of dropped {dropped:.3}");
    // Measured 0.9685 and 0.867; random ranking gives 0.5 and 0.3.
    assert!(auc >= 0.95, "alg2 auroc {auc}");
    assert!(dropped >= 0.8, "alg2 dropped share {dropped}");
}

#[test]
fn alg1_ranks_flipped_labels_last_with_default_settings() {
    let (auc, dropped) = hyperclean(BilevelConfig {
        algorithm: alg1(),
        ..BilevelConfig::default()
    });
    eprintln!("alg1: auroc {auc:.4}, corrupted share of dropped {dropped:.3}");
    // Measured 0.9627 and 0.842.
    assert!(auc >= 0.95, "alg1 auroc {auc}");
    assert!(dropped >= 0.8, "alg1 dropped share {dropped}");
}

#[test]
fn both_algorithms_read_the_safe_set_to_rank_flipped_labels() {
    // Alg 1 at the defaults: 0.9627 with the clean D_safe, 0.8685 shuffled. Alg 2 at the
    // defaults barely reads it (0.9685 against 0.9653: θ's ft weight 1 − λ is 0 then 0.03, so
    // the ranking is mostly θ's loss under D_safe's training, whatever its labels say); over
    // 10 epochs it does: 0.9799 against 0.9562.
    for (name, config, bar) in [
        (
            "alg1",
            BilevelConfig {
                algorithm: alg1(),
                ..BilevelConfig::default()
            },
            0.05,
        ),
        (
            "alg2, 10 epochs",
            BilevelConfig {
                epochs: 10,
                ..BilevelConfig::default()
            },
            0.01,
        ),
    ] {
        let (clean, _) = hyperclean(config.clone());
        let shuffled = hyperclean_with_shuffled_safe(config);
        eprintln!("{name}: auroc {clean:.4} with D_safe, {shuffled:.4} with its labels shuffled");
        assert!(clean - shuffled >= bar, "{name}: {clean} vs shuffled {shuffled}");
    }
}

#[test]
#[ignore = "finding: loss-rank (0.983) beats both algorithms (0.969, 0.963) at hyper-cleaning"]
fn both_algorithms_beat_loss_rank_at_hyper_cleaning() {
    // Measured: loss-rank 0.9834; Alg 2 0.9685 (0.9799 over 10 epochs), Alg 1 0.9627 (0.9736).
    let loss_rank = loss_rank_auroc();
    for algorithm in [Algorithm::Alg2 {}, alg1()] {
        let (auc, _) = hyperclean(BilevelConfig {
            algorithm,
            ..BilevelConfig::default()
        });
        assert!(
            auc > loss_rank,
            "{algorithm:?}: {auc} against loss-rank {loss_rank}"
        );
    }
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
