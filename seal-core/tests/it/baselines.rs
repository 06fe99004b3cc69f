//! The selection baselines on the hyper-cleaning toy world, through the public API only: the
//! aligned model's losses (`loss-rank`), a seeded `random` p% and `full` all come back as one
//! [`Selection`] that is applied by id, and the judge-free diagnostics read them alike.

use std::collections::HashSet;
use std::sync::Arc;

use seal_core::{
    ExampleId, Selection, dropped_share, full_selection, loss_rank_selection, random_selection,
    with_safety_demos,
};

use crate::toy::{Adam, Toy, World, WorldSpec};

/// 30% of 300 fine-tuning labels flipped; the flipped ones play the harmful examples.
const SPEC: WorldSpec = WorldSpec {
    seed: 11,
    classes: 4,
    dim: 16,
    n_safe: 150,
    n_ft: 300,
    flip: 0.3,
    separation: 0.6,
    novel: None,
};

/// The keep fraction: drops exactly as many examples as were flipped.
const P: f64 = 0.7;

/// The world and each fine-tuning example's loss under the aligned model (issue 8's one forward
/// pass of the initial model).
fn world_and_losses() -> (Arc<World>, Vec<f32>) {
    let world = Arc::new(World::new(SPEC));
    let aligned = Toy::aligned(Arc::clone(&world), Adam::default(), 100);
    let losses = aligned.ft_losses().into_iter().map(|l| l as f32).collect();
    (world, losses)
}

/// The flipped share among the dropped examples, found by id rather than by position.
fn flipped_share_of_dropped(world: &World, ids: &[ExampleId], selection: &Selection) -> f64 {
    let kept: HashSet<ExampleId> = selection.kept_ids().into_iter().collect();
    let flags: Vec<bool> = ids.iter().map(|id| kept.contains(id)).collect();
    dropped_share(&flags, &world.corrupted).unwrap().unwrap()
}

#[test]
fn loss_rank_drops_flipped_labels_and_random_drops_them_at_the_base_rate() {
    let (world, losses) = world_and_losses();
    let ids = world.ft_ids();

    let loss_rank = loss_rank_selection(&ids, &losses, P).unwrap();
    assert_eq!(loss_rank.kept_len(), 210);
    let loss_rank_share = flipped_share_of_dropped(&world, &ids, &loss_rank);
    // Input-order kept flags and the by-id lookup must agree.
    assert_eq!(
        dropped_share(&loss_rank.kept_flags(), &world.corrupted)
            .unwrap()
            .unwrap(),
        loss_rank_share
    );

    // Random's expected flipped share of the dropped is the base rate, 0.3; averaged over seeds.
    const SEEDS: u64 = 40;
    let random_share: f64 = (0..SEEDS)
        .map(|seed| flipped_share_of_dropped(&world, &ids, &random_selection(&ids, P, seed).unwrap()))
        .sum::<f64>()
        / SEEDS as f64;
    eprintln!("flipped share of dropped: loss-rank {loss_rank_share:.3}, random {random_share:.3}");
    assert!(loss_rank_share >= 0.7, "loss-rank {loss_rank_share}");
    assert!((random_share - 0.3).abs() < 0.05, "random {random_share}");
}

#[test]
fn a_selection_is_applied_by_id_after_upstream_filtering() {
    let (world, losses) = world_and_losses();
    let ids = world.ft_ids();
    // Length filtering upstream drops every fifth row and hands over the rest reversed: each
    // survivor keeps its own loss, so the selection among survivors must not shift.
    let survivors: Vec<usize> = (0..ids.len()).filter(|i| i % 5 != 0).rev().collect();
    let kept_ids: Vec<ExampleId> = survivors.iter().map(|&i| ids[i].clone()).collect();
    let kept_losses: Vec<f32> = survivors.iter().map(|&i| losses[i]).collect();
    let filtered = loss_rank_selection(&kept_ids, &kept_losses, P).unwrap();
    let full = loss_rank_selection(&ids, &losses, P).unwrap();
    let mut full_order: Vec<_> = full.candidates().iter().collect();
    full_order.sort_by_key(|c| c.rank);
    let expected: Vec<ExampleId> = full_order
        .iter()
        .filter(|c| kept_ids.contains(&c.id))
        .take(filtered.kept_len())
        .map(|c| c.id.clone())
        .collect();
    assert_eq!(filtered.kept_ids(), expected);
    for c in filtered.candidates() {
        let i = ids.iter().position(|id| *id == c.id).unwrap();
        assert_eq!(c.score, -f64::from(losses[i]), "{} carries its own loss", c.id);
    }
}

#[test]
fn safeinstr_trains_on_all_of_d_ft_then_the_demonstrations() {
    let (world, _) = world_and_losses();
    let ids = world.ft_ids();
    let demos: Vec<ExampleId> = (0..5).map(|i| ExampleId(format!("safe{i}"))).collect();
    let train = with_safety_demos(&full_selection(&ids).unwrap(), &demos).unwrap();
    assert_eq!(train.len(), ids.len() + demos.len());
    assert_eq!(train[..ids.len()], ids[..], "ft ids are already in id order");
    assert_eq!(train[ids.len()..], demos[..]);
}
