//! The glue between the models as graphs of their own (DESIGN.md section 4, "Where it runs"):
//! the one-hot of the dense pose and the clothing-agnostic map, written by the element as two
//! small ONNX graphs at the models' resolution and run in sessions on the models' device.
//!
//! Dense pose's 25 logits per pixel then never leave the device: the one-hot pose goes from
//! the dense-pose session through `POSE` to the agnostic map, S_P and S_W there, and the host
//! hands over only the parsing's group ids (one channel, which it has anyway: it follows the
//! person and smooths the parsing over time). At 256x192 that is 9.8 MB a frame that no longer
//! crosses between host and device, and the host's argmax, one-hot and agnostic map are gone.
//!
//! The graphs compute what `inputs::one_hot(maps::argmax(..))` and `inputs::agnostic` compute
//! on the host, exactly (a test holds them to it): ArgMax takes the first of equal maxima, as
//! `maps::argmax` does, and the torso test on a one-hot pose is a sum of its hidden parts.

use prost::Message;

use crate::contract::{AGNOSTIC_GROUPS, IR_VERSION, ModelSpec, OPSET, POSE_PARTS, Port, agnostic_hides};
use crate::proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto, TypeProtoTensor,
    ValueInfoProto, attribute_type, data_type, dimension,
};

/// The dense pose's one-hot: `pose_logits` [1, 25, H, W] to `pose` [1, 25, H, W], 1 at each
/// pixel's first largest logit.
pub const POSE: ModelSpec = ModelSpec {
    name: "pose_one_hot",
    file: "pose_one_hot (the element's glue graph)",
    inputs: &[Port { name: "pose_logits", channels: POSE_PARTS }],
    outputs: &[Port { name: "pose", channels: POSE_PARTS }],
};

/// M^a: `parsing` [1, 1, H, W] (group ids) and the one-hot `pose` [1, 25, H, W] to `agnostic`
/// [1, 4, H, W], as `inputs::agnostic`.
pub const AGNOSTIC: ModelSpec = ModelSpec {
    name: "agnostic",
    file: "agnostic (the element's glue graph)",
    inputs: &[Port { name: "parsing", channels: 1 }, Port { name: "pose", channels: POSE_PARTS }],
    outputs: &[Port { name: "agnostic", channels: AGNOSTIC_GROUPS.len() }],
};

/// The glue graphs, in the order a frame runs them.
pub const GLUE: [ModelSpec; 2] = [POSE, AGNOSTIC];

/// The glue graph `spec` at `h` x `w`, batch one, as ONNX bytes.
pub fn model(spec: &ModelSpec, h: usize, w: usize) -> Vec<u8> {
    let mut g = GraphProto { name: spec.name.into(), ..Default::default() };
    let per_channel = |c: usize| vec![1, c as i64, 1, 1];
    if spec.name == POSE.name {
        // Equal against the part numbers 0..24 broadcast over the pixels is the one-hot.
        g.initializer.push(int64s("parts", per_channel(POSE_PARTS), (0..POSE_PARTS as i64).collect()));
        g.node.push(node("ArgMax", &["pose_logits"], "part", vec![int("axis", 1), int("keepdims", 1)]));
        g.node.push(node("Equal", &["part", "parts"], "is_part", vec![]));
        g.node.push(node("Cast", &["is_part"], "pose", vec![int("to", data_type::FLOAT as i64)]));
    } else {
        let groups = AGNOSTIC_GROUPS.iter().map(|g| g.id() as f32).collect();
        let hides = (0..POSE_PARTS).map(|p| if agnostic_hides(p as u8) { 1.0 } else { 0.0 }).collect();
        g.initializer.push(floats("groups", per_channel(AGNOSTIC_GROUPS.len()), groups));
        g.initializer.push(floats("hides", per_channel(POSE_PARTS), hides));
        g.initializer.push(float_scalar("half", 0.5));
        g.initializer.push(int64s("channel_axis", vec![1], vec![1]));
        g.node.push(node("Equal", &["parsing", "groups"], "in_group", vec![]));
        g.node.push(node("Mul", &["pose", "hides"], "hidden_parts", vec![]));
        g.node.push(node("ReduceSum", &["hidden_parts", "channel_axis"], "hidden", vec![int("keepdims", 1)]));
        g.node.push(node("Less", &["hidden", "half"], "visible", vec![]));
        g.node.push(node("And", &["in_group", "visible"], "shown", vec![]));
        g.node.push(node("Cast", &["shown"], "agnostic", vec![int("to", data_type::FLOAT as i64)]));
    }
    g.input = spec.inputs.iter().map(|p| value(p, h, w)).collect();
    g.output = spec.outputs.iter().map(|p| value(p, h, w)).collect();
    model_bytes(g)
}

/// One of the element's own graphs as the bytes of an ONNX model (the contract's IR and opset).
pub(crate) fn model_bytes(graph: GraphProto) -> Vec<u8> {
    ModelProto {
        ir_version: IR_VERSION,
        producer_name: "gst-garment-transfer".into(),
        graph: Some(graph),
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
        ..Default::default()
    }
    .encode_to_vec()
}

fn node(op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    node_outputs(op, inputs, &[output], attribute)
}

/// A node of the default domain, named after its first output.
pub(crate) fn node_outputs(op: &str, inputs: &[&str], outputs: &[&str], attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        name: outputs[0].into(),
        op_type: op.into(),
        attribute,
        domain: String::new(),
    }
}

pub(crate) fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.into(), i, r#type: attribute_type::INT, ..Default::default() }
}

pub(crate) fn floats(name: &str, dims: Vec<i64>, values: Vec<f32>) -> TensorProto {
    TensorProto { dims, data_type: data_type::FLOAT, name: name.into(), raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect() }
}

pub(crate) fn float_scalar(name: &str, v: f32) -> TensorProto {
    floats(name, vec![], vec![v])
}

pub(crate) fn int64s(name: &str, dims: Vec<i64>, values: Vec<i64>) -> TensorProto {
    TensorProto { dims, data_type: data_type::INT64, name: name.into(), raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect() }
}

/// A float32 `[1, C, H, W]` graph input or output.
fn value(p: &Port, h: usize, w: usize) -> ValueInfoProto {
    let dim = [1, p.channels, h, w].map(|d| Dimension { value: Some(dimension::Value::DimValue(d as i64)) }).to_vec();
    ValueInfoProto {
        name: p.name.into(),
        r#type: Some(TypeProto { tensor_type: Some(TypeProtoTensor { elem_type: data_type::FLOAT, shape: Some(TensorShapeProto { dim }) }) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::{agnostic, one_hot};
    use crate::maps::argmax;
    use crate::runtime::{Feed, cpu_session, run};
    use ndarray::{Array4, Axis};

    /// A little generator of the test's pictures: the same numbers on every run.
    fn noise(seed: &mut u64) -> f32 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (*seed >> 40) as f32 / (1u64 << 24) as f32
    }

    #[test]
    fn the_glue_graphs_compute_what_the_host_computes() {
        let (h, w) = (13, 9);
        let mut seed = 7;
        // Logits with ties (a flat run of pixels) and a maximum on the last part.
        let mut logits = Array4::from_shape_fn((1, POSE_PARTS, h, w), |_| noise(&mut seed) * 4.0 - 2.0);
        logits.slice_mut(ndarray::s![0, .., 0, ..]).fill(1.0);
        logits[[0, POSE_PARTS - 1, 1, 1]] = 9.0;
        let mut session = cpu_session(&model(&POSE, h, w), POSE.file, 1).unwrap();
        let pose = run(&mut session, &POSE, &[Feed::Host(logits.view())], h, w).unwrap().swap_remove(0);
        let parts = argmax(&logits.view());
        assert_eq!(parts[w + 1] as usize, POSE_PARTS - 1);
        assert!(parts[..w].iter().all(|&p| p == 0), "ties go to the first part");
        assert_eq!(pose.index_axis(Axis(0), 0), one_hot(&parts, POSE_PARTS, h, w));

        // Every group id (7 is none) over a pose with hidden and shown parts.
        let ids: Vec<u8> = (0..h * w).map(|_| (noise(&mut seed) * 8.0) as u8).collect();
        let parsing = Array4::from_shape_fn((1, 1, h, w), |(_, _, y, x)| ids[y * w + x] as f32);
        let mut session = cpu_session(&model(&AGNOSTIC, h, w), AGNOSTIC.file, 1).unwrap();
        let got = run(&mut session, &AGNOSTIC, &[Feed::Host(parsing.view()), Feed::Host(pose.view())], h, w).unwrap().swap_remove(0);
        let expected = agnostic(&ids, pose.index_axis(Axis(0), 0));
        assert!(expected.sum() > 0.0 && expected.sum() < (ids.iter().filter(|&&i| AGNOSTIC_GROUPS.iter().any(|g| g.id() == i)).count() as f32));
        assert_eq!(got.index_axis(Axis(0), 0), expected);
    }
}
