//! Sizes of the networks: parameters and GFLOPs at 256 x 192, counted as the paper's Table 2
//! counts them - multiply-accumulates of convolution and linear layers.

use burn::module::Module;
use burn::tensor::Device;
use gstgarmenttransfer::contract::PAPER_RESOLUTION;
use serde::Serialize;

use crate::nn::Preset;
use crate::nn::network::Network;
use crate::onnx::export::{ExportError, export};

#[derive(Debug, Clone, Serialize)]
pub struct NetworkSize {
    pub name: String,
    pub params: usize,
    pub gflops: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub preset: String,
    pub networks: Vec<NetworkSize>,
}

/// Build every network of `preset` and count it at the paper's resolution.
pub fn summary(preset: Preset, device: &Device) -> Result<Summary, ExportError> {
    let (h, w) = PAPER_RESOLUTION;
    let mut networks = Vec::new();
    for name in Network::NAMES {
        let Some(net) = Network::new(name, preset, device) else { continue };
        let traced = export(&net, h, w)?;
        networks.push(NetworkSize { name: name.into(), params: net.num_params(), gflops: traced.macs as f64 / 1e9 });
    }
    Ok(Summary { preset: preset.name().into(), networks })
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (h, w) = PAPER_RESOLUTION;
        writeln!(f, "preset {} at {h}x{w} (GFLOPs = multiply-accumulates of conv layers)", self.preset)?;
        writeln!(f, "{:<18} {:>12} {:>10}", "network", "params (M)", "GFLOPs")?;
        for n in &self.networks {
            writeln!(f, "{:<18} {:>12.2} {:>10.2}", n.name, n.params as f64 / 1e6, n.gflops)?;
        }
        Ok(())
    }
}

/// Run the `summary` subcommand.
pub fn run(args: &crate::cli::SummaryArgs) -> anyhow::Result<()> {
    let s = summary(args.preset, &crate::nn::default_device())?;
    if args.json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        print!("{s}");
    }
    Ok(())
}
