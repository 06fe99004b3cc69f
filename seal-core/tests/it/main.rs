//! seal-core's one integration binary: the bilevel loop over a small classifier (data
//! hyper-cleaning without an LLM), and the selection baselines on the same toy world.

mod baselines;
mod bilevel_loop;
mod claim;
mod hyperclean;
mod toy;
