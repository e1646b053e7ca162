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

/// The backends the training crate runs on (`--device`), chosen once per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Backend {
    /// burn's pure-Rust CPU backend: the default, and the tests'.
    #[default]
    Flex,
    /// libtorch on the CPU (the `libtorch` feature; `scripts/setup.sh --libtorch`).
    LibTorch,
    /// libtorch on CUDA device N (a libtorch build with CUDA).
    LibTorchCuda(usize),
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Backend, String> {
        let backend = match s {
            "flex" => Backend::Flex,
            "libtorch" => Backend::LibTorch,
            _ => match s.strip_prefix("libtorch-cuda:").map(str::parse) {
                Some(Ok(n)) => Backend::LibTorchCuda(n),
                _ => return Err(format!("device '{s}': expected flex, libtorch or libtorch-cuda:N")),
            },
        };
        if backend != Backend::Flex && !cfg!(feature = "libtorch") {
            return Err(format!(
                "device '{s}': this garment-train was built without libtorch; run scripts/setup.sh --libtorch, then build with \
                 `cargo build --release -p garment-training --features libtorch`"
            ));
        }
        Ok(backend)
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Flex => write!(f, "flex"),
            Backend::LibTorch => write!(f, "libtorch"),
            Backend::LibTorchCuda(n) => write!(f, "libtorch-cuda:{n}"),
        }
    }
}

/// Serialised as on the command line (`flex`, `libtorch`, `libtorch-cuda:0`).
impl From<Backend> for String {
    fn from(b: Backend) -> String {
        b.to_string()
    }
}

impl TryFrom<String> for Backend {
    type Error = String;
    fn try_from(s: String) -> Result<Backend, String> {
        s.parse()
    }
}

static BACKEND: std::sync::OnceLock<Backend> = std::sync::OnceLock::new();

/// Choose the backend of this process (the command line does, once, before any work).
pub fn use_backend(backend: Backend) -> Result<(), String> {
    BACKEND.set(backend).map_err(|_| format!("the backend is chosen already ({})", self::backend()))
}

/// The backend of this process.
pub fn backend() -> Backend {
    BACKEND.get().copied().unwrap_or_default()
}

/// The device of the chosen backend: the one place that maps a backend to burn's device.
#[allow(deprecated)] // burn marks its tch backend deprecated in 0.22; pinned, see training/README.md
pub fn default_device() -> Device {
    match backend() {
        Backend::Flex => Device::flex(),
        #[cfg(feature = "libtorch")]
        Backend::LibTorch => Device::libtorch(),
        #[cfg(feature = "libtorch")]
        Backend::LibTorchCuda(n) => Device::libtorch_cuda(n),
        #[cfg(not(feature = "libtorch"))]
        Backend::LibTorch | Backend::LibTorchCuda(_) => unreachable!("Backend::from_str refuses libtorch in a build without it"),
    }
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
