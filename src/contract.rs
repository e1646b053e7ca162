//! The conventions shared by the element, the exporter and the training data: parsing groups,
//! dense-pose parts, and the five models' tensor names (DESIGN.md sections 2 and 3).

/// Parsing groups, in channel order. Every parsing map in the product uses these ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ParsingGroup {
    Background = 0,
    Hair = 1,
    Face = 2,
    /// Arms, neck, exposed torso.
    UpperSkin = 3,
    UpperGarment = 4,
    LowerGarment = 5,
    /// Legs, socks and shoes.
    Legs = 6,
}

impl ParsingGroup {
    pub const ALL: [ParsingGroup; 7] = [
        ParsingGroup::Background,
        ParsingGroup::Hair,
        ParsingGroup::Face,
        ParsingGroup::UpperSkin,
        ParsingGroup::UpperGarment,
        ParsingGroup::LowerGarment,
        ParsingGroup::Legs,
    ];

    /// The group of a channel index, `None` past the last group.
    pub fn from_id(id: u8) -> Option<ParsingGroup> {
        Self::ALL.get(id as usize).copied()
    }

    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            ParsingGroup::Background => "background",
            ParsingGroup::Hair => "hair",
            ParsingGroup::Face => "face",
            ParsingGroup::UpperSkin => "upper-body skin",
            ParsingGroup::UpperGarment => "upper garment",
            ParsingGroup::LowerGarment => "lower garment",
            ParsingGroup::Legs => "legs",
        }
    }
}

/// Number of parsing channels (`parsing_logits` has this many).
pub const PARSING_GROUPS: usize = 7;

/// The groups that make the clothing-agnostic map of person A, in channel order: what stays
/// untouched when A changes the upper garment.
pub const AGNOSTIC_GROUPS: [ParsingGroup; 4] = [
    ParsingGroup::Hair,
    ParsingGroup::Face,
    ParsingGroup::LowerGarment,
    ParsingGroup::Legs,
];

/// What the agnostic map is, as the manifest's conventions record it: models trained on another
/// reading are refused.
pub const AGNOSTIC: &str = "one-hot hair, face, lower garment, legs; blank on the torso and upper legs of the dense pose";

/// Whether the agnostic map is blank on dense-pose part `part`: the torso and the upper legs.
/// An upper garment ends somewhere over them, and where A's lower garment and legs show there is
/// where A's *own* garment ends. Kept, they tell the parsing networks A's hem, and a try-on
/// teacher (which only ever sees people in their own garment) learns to copy it instead of
/// placing B's: measured on held-out transfers, the hem S_P predicted followed A's own at 0.87
/// and the true one at 0.12. Blanked, the hem can only come from the garment.
pub fn agnostic_hides(part: u8) -> bool {
    use densepose_part::*;
    is_torso(part) || UPPER_LEG_RIGHT.contains(&part) || UPPER_LEG_LEFT.contains(&part)
}

/// What the dense pose is, as the manifest's conventions record it. Of the body under the
/// clothes, it is the same whatever upper garment a person wears; had it the garment's silhouette
/// (as an earlier version's did), it would tell the networks where the person's own garment ends.
/// `densepose` is trained on it and `transfer_parsing` and `warp` read it: models trained on the
/// other reading are refused.
pub const DENSE_POSE: &str = "the body under the clothes: an upper garment keeps the parts of the body it covers and has none where it hangs off the body";

/// The models that make or read the dense pose.
pub const DENSE_POSE_MODELS: [&str; 3] = ["densepose", "transfer_parsing", "warp"];

/// Dense-pose channels: background plus the 24 DensePose part indices.
pub const POSE_PARTS: usize = 25;

/// DensePose part indices (the `I` channel of DensePose), as the dense-pose maps store them.
pub mod densepose_part {
    pub const BACKGROUND: u8 = 0;
    pub const TORSO_BACK: u8 = 1;
    pub const TORSO_FRONT: u8 = 2;
    pub const RIGHT_HAND: u8 = 3;
    pub const LEFT_HAND: u8 = 4;
    pub const LEFT_FOOT: u8 = 5;
    pub const RIGHT_FOOT: u8 = 6;
    /// Upper leg right: 7 and 9; left: 8 and 10.
    pub const UPPER_LEG_RIGHT: [u8; 2] = [7, 9];
    pub const UPPER_LEG_LEFT: [u8; 2] = [8, 10];
    pub const LOWER_LEG_RIGHT: [u8; 2] = [11, 13];
    pub const LOWER_LEG_LEFT: [u8; 2] = [12, 14];
    pub const UPPER_ARM_LEFT: [u8; 2] = [15, 17];
    pub const UPPER_ARM_RIGHT: [u8; 2] = [16, 18];
    pub const LOWER_ARM_LEFT: [u8; 2] = [19, 21];
    pub const LOWER_ARM_RIGHT: [u8; 2] = [20, 22];
    pub const HEAD: [u8; 2] = [23, 24];

    /// Torso parts (1, 2).
    pub fn is_torso(i: u8) -> bool {
        i == TORSO_BACK || i == TORSO_FRONT
    }

    /// Arm parts, hands included (3, 4, 15..=22).
    pub fn is_arm(i: u8) -> bool {
        i == RIGHT_HAND || i == LEFT_HAND || (15..=22).contains(&i)
    }

    /// Leg parts, feet included (5..=14).
    pub fn is_leg(i: u8) -> bool {
        (5..=14).contains(&i)
    }

    pub fn is_head(i: u8) -> bool {
        i == HEAD[0] || i == HEAD[1]
    }
}

/// Model resolution of the paper (height x width); the shipped manifest records the real one.
pub const PAPER_RESOLUTION: (usize, usize) = (256, 192);

/// A named tensor of a model: `[N, channels, H, W]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port {
    pub name: &'static str,
    pub channels: usize,
}

/// One of the five models the element runs (DESIGN.md section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSpec {
    /// Key in the manifest.
    pub name: &'static str,
    pub file: &'static str,
    pub inputs: &'static [Port],
    pub outputs: &'static [Port],
}

const fn port(name: &'static str, channels: usize) -> Port {
    Port { name, channels }
}

pub const PARSER: ModelSpec = ModelSpec {
    name: "parser",
    file: "parser.onnx",
    inputs: &[port("image", 3)],
    outputs: &[port("parsing_logits", PARSING_GROUPS)],
};

pub const DENSEPOSE: ModelSpec = ModelSpec {
    name: "densepose",
    file: "densepose.onnx",
    inputs: &[port("image", 3)],
    outputs: &[port("pose_logits", POSE_PARTS)],
};

pub const TRANSFER_PARSING: ModelSpec = ModelSpec {
    name: "transfer_parsing",
    file: "transfer_parsing.onnx",
    inputs: &[port("agnostic", AGNOSTIC_GROUPS.len()), port("pose", POSE_PARTS), port("garment_mask", 1)],
    outputs: &[port("parsing_logits", PARSING_GROUPS)],
};

pub const WARP: ModelSpec = ModelSpec {
    name: "warp",
    file: "warp.onnx",
    inputs: &[
        port("garment", 3),
        port("garment_mask", 1),
        port("source_pose", POSE_PARTS),
        port("target_mask", 1),
        port("target_pose", POSE_PARTS),
    ],
    outputs: &[port("warped_garment", 3), port("warped_mask", 1), port("flow", 2)],
};

pub const REGROWTH: ModelSpec = ModelSpec {
    name: "regrowth",
    file: "regrowth.onnx",
    inputs: &[port("skin", 3), port("target_skin_mask", 1)],
    outputs: &[port("regrown_skin", 3)],
};

/// The inputs (model, port) that hold the reference person B: the same for every frame of a
/// reference, so the element hands them to ONNX Runtime once per reference (on the sessions'
/// device), not once per frame.
pub const REFERENCE_INPUTS: [(&str, &str); 4] =
    [("transfer_parsing", "garment_mask"), ("warp", "garment"), ("warp", "garment_mask"), ("warp", "source_pose")];

/// The outputs (model, port) the element never reads: a frame does not fetch them (no copy to
/// the host; ONNX Runtime still computes them: it prunes a graph when the session is made, not
/// per run). The composite samples the full-resolution reference garment through the flow
/// where S_P puts the garment, so S_W's model-resolution `warped_garment` and `warped_mask` go
/// unused (training reads them).
pub const UNREAD_OUTPUTS: [(&str, &str); 2] = [("warp", "warped_garment"), ("warp", "warped_mask")];

/// The five models in the order a frame runs them.
pub const MODELS: [ModelSpec; 5] = [PARSER, DENSEPOSE, TRANSFER_PARSING, WARP, REGROWTH];

/// ONNX versions the exporter writes and the element expects.
pub const IR_VERSION: i64 = 10;
pub const OPSET: i64 = 18;

/// Largest model resolution (either side) a manifest may declare: far above the paper's
/// 256 x 192, low enough that a lying manifest cannot make the element allocate gigabytes.
pub const MAX_RESOLUTION: usize = 2048;
