//! `garment-train`: parses the command line and runs the subcommand's library function.

use clap::Parser;

use garment_training::cli::{Cli, Command};
use garment_training::{bench, contact_sheet, estimate, eval, nn, onnx, progress, quantize, summary, synth, train};

fn main() -> anyhow::Result<()> {
    progress::init_logging();
    let cli = Cli::parse();
    nn::use_backend(cli.device).map_err(anyhow::Error::msg)?;
    match &cli.command {
        Command::Synth(a) => synth::writer::synth(a),
        Command::SynthVideo(a) => synth::writer::synth_video(a),
        Command::EvalVideo(a) => eval::run_video(a),
        Command::ContactSheet(a) => contact_sheet::run(a),
        Command::Summary(a) => summary::run(a),
        Command::Export(a) => onnx::folder::run(a),
        Command::Train(a) => train::all::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Quantize(a) => quantize::run(a),
        Command::Estimate(a) => estimate::run(a),
        Command::BenchOnnx(a) => bench::onnx(a),
        Command::BenchSynth(a) => bench::synth(a),
    }
}
