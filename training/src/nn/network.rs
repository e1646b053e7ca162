//! Every network of the method behind one type: built from a preset, run through any
//! [`Graph`] with the tensors of its ONNX contract, in the contract's order.

use burn::module::Module;
use burn::tensor::Device;
use gstgarmenttransfer::contract::{self, ModelSpec, PARSING_GROUPS, POSE_PARTS, Port};

use super::Preset;
use super::frame_net::FrameNet;
use super::graph::Graph;
use super::regrowth::Regrowth;
use super::student_warp::StudentWarp;
use super::teacher_warp::TeacherWarp;
use super::u2net::U2Net;

/// T_P: the teacher sees the in-shop garment's mask instead of the garment as B wears it.
pub const TEACHER_PARSING: ModelSpec = ModelSpec {
    name: "teacher_parsing",
    file: "teacher_parsing.onnx",
    inputs: &[
        Port { name: "agnostic", channels: 4 },
        Port { name: "pose", channels: POSE_PARTS },
        Port { name: "cloth_mask", channels: 1 },
    ],
    outputs: &[Port { name: "parsing_logits", channels: PARSING_GROUPS }],
};

/// T_W: warps the in-shop garment onto the target garment region.
pub const TEACHER_WARP: ModelSpec = ModelSpec {
    name: "teacher_warp",
    file: "teacher_warp.onnx",
    inputs: &[
        Port { name: "cloth", channels: 3 },
        Port { name: "cloth_mask", channels: 1 },
        Port { name: "target_mask", channels: 1 },
        Port { name: "pose", channels: POSE_PARTS },
    ],
    outputs: &[
        Port { name: "warped_garment", channels: 3 },
        Port { name: "warped_mask", channels: 1 },
        Port { name: "flow", channels: 2 },
    ],
};

#[derive(Module, Debug)]
pub enum Network {
    Parser(FrameNet),
    Densepose(FrameNet),
    TeacherParsing(U2Net),
    TeacherWarp(TeacherWarp),
    TransferParsing(U2Net),
    Warp(StudentWarp),
    Regrowth(Regrowth),
}

impl Network {
    /// Every network, in the order the schedule trains them.
    pub const NAMES: [&'static str; 7] =
        ["parser", "densepose", "teacher_parsing", "teacher_warp", "transfer_parsing", "warp", "regrowth"];

    pub fn new(name: &str, preset: Preset, device: &Device) -> Option<Network> {
        Some(match name {
            "parser" => Network::Parser(preset.parser(device)),
            "densepose" => Network::Densepose(preset.densepose(device)),
            "teacher_parsing" => Network::TeacherParsing(preset.parsing(device)),
            "teacher_warp" => Network::TeacherWarp(preset.teacher_warp(device)),
            // The student and its baselines share the architecture.
            "transfer_parsing" | "transfer_parsing_self_supervised" | "transfer_parsing_oracle" => {
                Network::TransferParsing(preset.parsing(device))
            }
            "warp" => Network::Warp(preset.student_warp(device)),
            "regrowth" => Network::Regrowth(preset.regrowth_net(device)),
            _ => return None,
        })
    }

    pub fn spec(&self) -> ModelSpec {
        match self {
            Network::Parser(_) => contract::PARSER,
            Network::Densepose(_) => contract::DENSEPOSE,
            Network::TeacherParsing(_) => TEACHER_PARSING,
            Network::TeacherWarp(_) => TEACHER_WARP,
            Network::TransferParsing(_) => contract::TRANSFER_PARSING,
            Network::Warp(_) => contract::WARP,
            Network::Regrowth(_) => contract::REGROWTH,
        }
    }

    pub fn architecture(&self) -> &'static str {
        match self {
            Network::Parser(_) => "U-Net, 5 levels, 7 parsing groups",
            Network::Densepose(_) => "U-Net, 5 levels, 25 dense-pose parts",
            Network::TeacherParsing(_) => "U2-Net (RSU7..RSU4F), teacher T_P",
            Network::TeacherWarp(_) => "appearance flow (PF-AFN style), 5 levels, teacher T_W",
            Network::TransferParsing(_) => "U2-Net (RSU7..RSU4F), student S_P",
            Network::Warp(_) => "STN + 5 shape-content-aware warping modules, student S_W",
            Network::Regrowth(_) => "ResUNet, arm regrowth R",
        }
    }

    /// The inference forward on the contract's inputs, outputs in the contract's order.
    pub fn forward<G: Graph>(&self, g: &mut G, inputs: &[G::T]) -> Vec<G::T> {
        match self {
            Network::Parser(n) | Network::Densepose(n) => vec![n.forward(g, &inputs[0])],
            Network::TeacherParsing(n) | Network::TransferParsing(n) => {
                let x = g.concat(inputs);
                vec![n.forward(g, &x).logits]
            }
            Network::TeacherWarp(n) => {
                let w = n.forward(g, &inputs[0], &inputs[1], &inputs[2], &inputs[3]);
                vec![w.garment, w.mask, w.flow]
            }
            Network::Warp(n) => {
                let w = n.forward(g, &inputs[0], &inputs[1], &inputs[2], &inputs[3], &inputs[4]).warped;
                vec![w.garment, w.mask, w.flow]
            }
            Network::Regrowth(n) => vec![n.forward(g, &inputs[0], &inputs[1])],
        }
    }
}
