//! `seal model`: import a GGUF file, inspect a folder.

use anyhow::Context;
use seal_models::backend::{Cpu, cpu_device};
use seal_models::{LlamaConfig, load_llama, save_llama};

use crate::cli::ModelCommand;

pub fn exec(command: ModelCommand) -> anyhow::Result<()> {
    match command {
        ModelCommand::ImportGguf { gguf, out, force } => {
            let summary = seal_models::import::import_gguf_folder(&gguf, &out, force)
                .with_context(|| format!("importing {}", gguf.display()))?;
            for (key, value) in summary {
                tracing::info!("{key}: {value}");
            }
            println!("wrote {}", out.display());
            Ok(())
        }
        ModelCommand::Export { dir, out } => {
            let loaded = load_llama::<Cpu>(&dir, &cpu_device())
                .with_context(|| format!("loading {}", dir.display()))?;
            save_llama(&loaded.model, &loaded.hf_config, &out)
                .with_context(|| format!("writing {}", out.display()))?;
            for file in [
                "tokenizer.json",
                "tokenizer_config.json",
                "generation_config.json",
            ] {
                let src = dir.join(file);
                if src.exists() {
                    std::fs::copy(&src, out.join(file))
                        .with_context(|| format!("copying {}", src.display()))?;
                }
            }
            println!("wrote {}", out.display());
            Ok(())
        }
        ModelCommand::Inspect { dir } => {
            let (config, hf) = LlamaConfig::from_file(&dir.join("config.json"))
                .with_context(|| format!("reading {}", dir.display()))?;
            // Loading checks every tensor against the config.
            load_llama::<Cpu>(&dir, &cpu_device()).with_context(|| format!("loading {}", dir.display()))?;
            println!("architecture: {}", hf.architectures.join(", "));
            println!("{}", serde_json::to_string_pretty(&config)?);
            println!("parameters: {}", config.num_params());
            Ok(())
        }
    }
}
