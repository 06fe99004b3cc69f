//! seal-core's one integration binary: the bilevel loop over a small classifier (data
//! hyper-cleaning without an LLM).

mod bilevel_loop;
mod hyperclean;
mod toy;
