//! The half-precision form of an exported model, for GPUs whose tensor cores run float16 at
//! twice (or more) the float32 rate and for half the memory traffic.
//!
//! The weights are stored and computed in float16 between a cast after each input and a cast
//! before each output: the contract's tensors stay float32, so the element feeds and reads an
//! FP16 folder exactly as an FP32 one. GridSample runs in float32, cast around it: the sampling
//! grid is an absolute position in [-1, 1], and float16's 11-bit mantissa would place a sample up
//! to a quarter of a pixel off at 1024 pixels (the flow is what the warp is for).

use super::proto::{AttributeProto, ModelProto, NodeProto, attribute_type, data_type};

/// Which precision a models folder computes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Precision {
    #[default]
    Fp32,
    Fp16,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
        }
    }
}

/// The nearest float16 to `x` (ties to even), as its bits.
pub fn f16_bits(x: f32) -> u16 {
    half::f16::from_f32(x).to_bits()
}

fn cast(input: &str, output: &str, to: i32) -> NodeProto {
    NodeProto {
        input: vec![input.into()],
        output: vec![output.into()],
        name: format!("cast_{output}"),
        op_type: "Cast".into(),
        attribute: vec![AttributeProto { name: "to".into(), i: to as i64, r#type: attribute_type::INT, ..Default::default() }],
        ..Default::default()
    }
}

/// Rewrite `model` (as the exporter writes it) to compute in float16; see the module's comment.
pub fn to_fp16(model: &mut ModelProto) {
    let Some(graph) = model.graph.as_mut() else { return };
    // Resize's scales are float32 whatever the data's type.
    let scales: std::collections::HashSet<String> =
        graph.node.iter().filter(|n| n.op_type == "Resize").filter_map(|n| n.input.get(2)).filter(|i| !i.is_empty()).cloned().collect();
    for t in graph.initializer.iter_mut().filter(|t| t.data_type == data_type::FLOAT && !scales.contains(&t.name)) {
        t.raw_data = t.raw_data.chunks_exact(4).flat_map(|b| f16_bits(f32::from_le_bytes([b[0], b[1], b[2], b[3]])).to_le_bytes()).collect();
        t.data_type = data_type::FLOAT16;
    }
    let rename_uses = |nodes: &mut [NodeProto], from: &str, to: &str| {
        for n in nodes {
            for i in n.input.iter_mut().filter(|i| *i == from) {
                *i = to.into();
            }
        }
    };
    let mut nodes = std::mem::take(&mut graph.node);
    // Each input cast once, at the start.
    let mut head = Vec::new();
    for input in &graph.input {
        let half = format!("{}_fp16", input.name);
        rename_uses(&mut nodes, &input.name, &half);
        head.push(cast(&input.name, &half, data_type::FLOAT16));
    }
    // Each output computed in float16 and cast back at the end.
    let mut tail = Vec::new();
    for output in &graph.output {
        let half = format!("{}_fp16", output.name);
        rename_uses(&mut nodes, &output.name, &half);
        for o in nodes.iter_mut().flat_map(|n| n.output.iter_mut()).filter(|o| **o == output.name) {
            *o = half.clone();
        }
        tail.push(cast(&half, &output.name, data_type::FLOAT));
    }
    // GridSample in float32, its inputs and output cast around it (an input that several
    // samplers read, the garment, cast once).
    let mut out = head;
    let mut cast_up = std::collections::HashSet::new();
    for mut n in nodes {
        if n.op_type != "GridSample" {
            out.push(n);
            continue;
        }
        for i in n.input.iter_mut() {
            let full = format!("{i}_fp32");
            if cast_up.insert(full.clone()) {
                out.push(cast(i, &full, data_type::FLOAT));
            }
            *i = full;
        }
        let result = n.output[0].clone();
        let full = format!("{result}_fp32");
        n.output[0] = full.clone();
        out.push(n);
        out.push(cast(&full, &result, data_type::FLOAT16));
    }
    out.extend(tail);
    graph.node = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float16_rounding_matches_the_standard_values() {
        for (x, bits) in [
            (0.0f32, 0x0000u16),
            (-0.0, 0x8000),
            (1.0, 0x3c00),
            (-2.0, 0xc000),
            (0.5, 0x3800),
            (65504.0, 0x7bff),
            (65520.0, 0x7c00), // rounds up past the largest finite value
            (1e6, 0x7c00),
            (f32::INFINITY, 0x7c00),
            (6.103_515_6e-5, 0x0400), // smallest normal
            (5.960_464_5e-8, 0x0001), // smallest subnormal
            (2.0e-8, 0x0000),         // below half of it
            (1.0 + 1.0 / 2048.0, 0x3c00), // a tie rounds to even (down)
            (1.0 + 3.0 / 2048.0, 0x3c02), // a tie rounds to even (up)
            (0.1, 0x2e66),
        ] {
            assert_eq!(f16_bits(x), bits, "{x}");
        }
        assert_eq!(f16_bits(f32::NAN) & 0x7c00, 0x7c00);
        assert_ne!(f16_bits(f32::NAN) & 0x3ff, 0);
    }
}
