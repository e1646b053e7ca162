//! The paper's networks in burn, each with the `paper`, `lite` and `tiny` width presets.
//!
//! Every forward is generic over [`graph::Graph`]: the same code trains on burn tensors and
//! writes the ONNX graph the element runs.

pub mod blocks;
pub mod frame_net;
pub mod graph;
pub mod network;
pub mod regrowth;
pub mod student_warp;
pub mod teacher_warp;
pub mod u2net;
pub mod warp;

use burn::tensor::Device;
use gstgarmenttransfer::contract::{PARSING_GROUPS, POSE_PARTS};

use frame_net::FrameNet;
use regrowth::Regrowth;
use student_warp::StudentWarp;
use teacher_warp::{TeacherWarp, WarpWidths};
use u2net::{U2Net, U2Widths};

/// The backend the training crate runs on, chosen in one place: burn's pure-Rust CPU backend.
/// A GPU backend is a different `Device` here and nothing else.
pub fn default_device() -> Device {
    Device::flex()
}

/// Input channels of the parsing networks T_P and S_P: agnostic map 4 + dense pose 25 + mask 1.
pub const PARSING_INPUT_CHANNELS: usize = 4 + POSE_PARTS + 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// The widths of the paper (Table 2).
    Paper,
    /// Small enough to train on a CPU and run live: U2NETP-like parsing, narrower warps.
    Lite,
    /// A few channels wide, for tests.
    Tiny,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Paper => "paper",
            Preset::Lite => "lite",
            Preset::Tiny => "tiny",
        }
    }


    /// Model resolution (width, height) of the preset's training schedule: `lite` trains at
    /// half the paper's 192x256 so that its schedule fits 90 minutes of 2 CPU cores.
    pub fn default_size(self) -> (u32, u32) {
        match self {
            Preset::Paper => (192, 256),
            Preset::Lite => (96, 128),
            Preset::Tiny => (32, 32),
        }
    }

    pub fn u2(self) -> U2Widths {
        match self {
            Preset::Paper => U2Widths::PAPER,
            Preset::Lite => U2Widths::LITE,
            Preset::Tiny => U2Widths::TINY,
        }
    }

    /// The per-frame U-Nets (our choice; the paper ran offline tools).
    pub fn frame(self) -> &'static [usize] {
        match self {
            Preset::Paper => &[32, 64, 128, 256, 512],
            Preset::Lite => &[16, 32, 64, 128, 128],
            Preset::Tiny => &[4, 8, 8, 8, 8],
        }
    }

    /// Warp widths: PF-AFN's encoder (64..256, FPN 256, estimators 128-64-32) at `paper`.
    pub fn warp(self) -> WarpWidths {
        match self {
            Preset::Paper => WarpWidths { encoder: [64, 128, 256, 256, 256], fpn: 256, estimator: [128, 64, 32] },
            Preset::Lite => WarpWidths { encoder: [24, 48, 64, 64, 64], fpn: 48, estimator: [48, 32, 16] },
            Preset::Tiny => WarpWidths { encoder: [4, 8, 8, 8, 8], fpn: 8, estimator: [8, 8, 8] },
        }
    }

    pub fn stn(self) -> &'static [usize] {
        match self {
            Preset::Paper => &[64, 128, 256, 256, 256],
            Preset::Lite => &[16, 32, 64, 64],
            Preset::Tiny => &[8, 8],
        }
    }

    /// Regrowth ResUNet: widths per level (finest first) and encoder residual blocks per level.
    /// `paper` is sized to Table 2 (43.90 M parameters, 21.86 GFLOPs).
    pub fn regrowth(self) -> (&'static [usize], &'static [usize]) {
        match self {
            Preset::Paper => (&[24, 64, 128, 512, 1088], &[1, 1, 1, 2, 1]),
            Preset::Lite => (&[16, 32, 64, 128, 256], &[1, 1, 1, 1, 1]),
            Preset::Tiny => (&[4, 8, 8], &[1, 1, 1]),
        }
    }

    pub fn parser(self, device: &Device) -> FrameNet {
        FrameNet::new(self.frame(), 3, PARSING_GROUPS, device)
    }
    pub fn densepose(self, device: &Device) -> FrameNet {
        FrameNet::new(self.frame(), 3, POSE_PARTS, device)
    }
    /// T_P and S_P share the backbone.
    pub fn parsing(self, device: &Device) -> U2Net {
        U2Net::new(self.u2(), PARSING_INPUT_CHANNELS, PARSING_GROUPS, device)
    }
    pub fn teacher_warp(self, device: &Device) -> TeacherWarp {
        TeacherWarp::new(self.warp(), device)
    }
    pub fn student_warp(self, device: &Device) -> StudentWarp {
        StudentWarp::new(self.warp(), self.stn(), device)
    }
    pub fn regrowth_net(self, device: &Device) -> Regrowth {
        let (widths, blocks) = self.regrowth();
        Regrowth::new(widths, blocks, device)
    }
}
