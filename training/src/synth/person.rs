//! Drawing a dressed person in a scene, back to front, with every shape labelled.

use gstgarmenttransfer::contract::densepose_part as dp;
use tiny_skia::{Color, GradientStop, LinearGradient, Point, SpreadMode, Transform};

use super::body::{Build, HairStyle, Limb, Pose, Side, Skeleton};
use super::canvas::{Canvas, Drawing, Fill, PoseLabel};
use super::garment::{LowerGarment, LowerKind, Tailored, side_index, trouser_pieces};
use super::geometry::{Outline, capsule, ellipse, p2};
use crate::rng::Rng;
use crate::data::cihp;

/// The scene behind the person.
#[derive(Debug, Clone, PartialEq)]
pub enum Background {
    /// A wall fading from `top` to `bottom`.
    Wall { top: [u8; 3], bottom: [u8; 3] },
    /// A wall and a floor meeting at `horizon` (fraction of the height).
    Room { wall: [u8; 3], floor: [u8; 3], horizon: f32 },
    /// Vertical wallpaper stripes.
    Wallpaper { base: [u8; 3], stripe: [u8; 3], period: f32 },
    /// Soft blobs of light on a plain wall.
    Bokeh { base: [u8; 3], blobs: Vec<(f32, f32, f32, [u8; 3])> },
}

impl Background {
    pub fn random(rng: &mut Rng) -> Background {
        let grey = |rng: &mut Rng, lo: f32, hi: f32| {
            let v = rng.range(lo, hi);
            let tint = [rng.range(-18.0, 18.0), rng.range(-18.0, 18.0), rng.range(-18.0, 18.0)];
            std::array::from_fn(|i| (v + tint[i]).clamp(0.0, 255.0) as u8)
        };
        match rng.below(4) {
            0 => Background::Wall { top: grey(rng, 150.0, 240.0), bottom: grey(rng, 90.0, 200.0) },
            1 => Background::Room { wall: grey(rng, 150.0, 235.0), floor: grey(rng, 70.0, 150.0), horizon: rng.range(0.68, 0.85) },
            2 => Background::Wallpaper { base: grey(rng, 160.0, 230.0), stripe: grey(rng, 120.0, 200.0), period: rng.range(0.05, 0.12) },
            _ => Background::Bokeh {
                base: grey(rng, 60.0, 160.0),
                blobs: (0..6)
                    .map(|_| (rng.unit(), rng.unit(), rng.range(0.05, 0.15), grey(rng, 150.0, 250.0)))
                    .collect(),
            },
        }
    }

    fn draw(&self, canvas: &mut Canvas) {
        let (w, h) = (canvas.width as f32, canvas.height as f32);
        let solid = |c: [u8; 3]| Fill::Solid(c);
        match self {
            Background::Wall { top, bottom } => {
                let c = |c: [u8; 3]| Color::from_rgba8(c[0], c[1], c[2], 255);
                let shader = LinearGradient::new(
                    Point::from_xy(0.0, 0.0),
                    Point::from_xy(0.0, h),
                    vec![GradientStop::new(0.0, c(*top)), GradientStop::new(1.0, c(*bottom))],
                    SpreadMode::Pad,
                    Transform::identity(),
                );
                match shader {
                    Some(s) => canvas.fill_all(&Fill::Shader(s)),
                    None => canvas.fill_all(&solid(*top)),
                }
            }
            Background::Room { wall, floor, horizon } => {
                canvas.fill_all(&solid(*wall));
                if let Some(r) = tiny_skia::Rect::from_xywh(0.0, h * horizon, w, h * (1.0 - horizon)) {
                    canvas.paint(&tiny_skia::PathBuilder::from_rect(r), &solid(*floor));
                }
            }
            Background::Wallpaper { base, stripe, period } => {
                canvas.fill_all(&solid(*base));
                let p = period * w;
                let mut pb = tiny_skia::PathBuilder::new();
                let mut x = 0.0;
                while x < w {
                    if let Some(r) = tiny_skia::Rect::from_xywh(x, 0.0, p * 0.35, h) {
                        pb.push_rect(r);
                    }
                    x += p;
                }
                if let Some(path) = pb.finish() {
                    canvas.paint(&path, &solid(*stripe));
                }
            }
            Background::Bokeh { base, blobs } => {
                canvas.fill_all(&solid(*base));
                for &(x, y, r, c) in blobs {
                    if let Some(path) = ellipse(p2(x * w, y * h), r * h, r * h, 0.0) {
                        canvas.paint(&path, &solid(c));
                    }
                }
            }
        }
    }
}

/// Everything about a person except the pose and the upper garment they wear.
#[derive(Debug, Clone, PartialEq)]
pub struct Look {
    pub build: Build,
    pub lower: LowerGarment,
    pub background: Background,
}

fn split(from: super::geometry::P2, to: super::geometry::P2, ids: [u8; 2]) -> PoseLabel {
    PoseLabel::Split { origin: from, dir: to.sub(from), positive: ids[0], negative: ids[1] }
}

/// Draw `look` in `pose` wearing `upper` on a fresh `width` x `height` canvas.
pub fn draw_person(look: &Look, pose: &Pose, upper: &Tailored, width: u32, height: u32) -> Option<Drawing> {
    let mut canvas = Canvas::new(width, height)?;
    look.background.draw(&mut canvas);
    let b = &look.build;
    let sk = b.skeleton(pose);
    let skin = Fill::Solid(b.skin);

    // Long hair hangs behind the body.
    if b.hair_style == HairStyle::Long {
        let top = sk.head_centre;
        let hair_back = capsule(top, sk.torso.map(0.0, 0.3), sk.head_rx * 1.25, true, false);
        if let Some(path) = hair_back {
            canvas.draw(&path, &Fill::Solid(b.hair), Some(cihp::HAIR), PoseLabel::Keep);
        }
    }

    // Neck and torso skin, legs and feet, then the lower garment over them.
    let neck_top = sk.head_centre.lerp(sk.torso.origin, 0.4);
    if let Some(path) = capsule(neck_top, sk.torso.map(0.0, 0.12), sk.neck_radius, false, true) {
        canvas.draw(&path, &skin, Some(cihp::TORSO_SKIN), PoseLabel::Part(dp::TORSO_FRONT));
    }
    if let Some(path) = torso_outline().path(&sk.torso) {
        canvas.draw(&path, &skin, Some(cihp::TORSO_SKIN), PoseLabel::Part(dp::TORSO_FRONT));
    }
    for leg in &sk.legs {
        let (leg_id, shoe_id, upper_ids, lower_ids, foot) = match leg.side {
            Side::Right => (cihp::RIGHT_LEG, cihp::RIGHT_SHOE, dp::UPPER_LEG_RIGHT, dp::LOWER_LEG_RIGHT, dp::RIGHT_FOOT),
            Side::Left => (cihp::LEFT_LEG, cihp::LEFT_SHOE, dp::UPPER_LEG_LEFT, dp::LOWER_LEG_LEFT, dp::LEFT_FOOT),
        };
        draw_limb(&mut canvas, leg, &skin, leg_id, upper_ids, lower_ids);
        if let Some(path) = capsule(leg.end, leg.tip, leg.tip_radius, true, true) {
            canvas.draw(&path, &Fill::Solid(b.shoes), Some(shoe_id), PoseLabel::Part(foot));
        }
    }
    let lower = &look.lower;
    let lower_fill = Fill::Solid(lower.colour);
    for leg in &sk.legs {
        let (upper_ids, lower_ids) = match leg.side {
            Side::Right => (dp::UPPER_LEG_RIGHT, dp::LOWER_LEG_RIGHT),
            Side::Left => (dp::UPPER_LEG_LEFT, dp::LOWER_LEG_LEFT),
        };
        for (k, path) in trouser_pieces(lower, leg).iter().enumerate() {
            let label = if k == 0 { split(leg.root, leg.mid, upper_ids) } else { split(leg.mid, leg.end, lower_ids) };
            canvas.draw(path, &lower_fill, Some(lower.cihp()), label);
        }
    }
    if let Some(path) = lower.waist_outline().path(&sk.torso) {
        canvas.draw(&path, &lower_fill, Some(lower.cihp()), PoseLabel::Part(dp::TORSO_FRONT));
    }
    if lower.kind == LowerKind::Skirt {
        if let Some(path) = lower.skirt_outline().path(&sk.torso) {
            // Below the hips a skirt covers the upper legs: split at the body's midline.
            let label = PoseLabel::Split {
                origin: sk.torso.origin,
                dir: sk.torso.eb,
                positive: dp::UPPER_LEG_LEFT[1],
                negative: dp::UPPER_LEG_RIGHT[1],
            };
            canvas.draw(&path, &lower_fill, Some(lower.cihp()), label);
            // The hip part stays torso.
            if let Some(path) = lower.waist_outline().path(&sk.torso) {
                canvas.label(&path, None, PoseLabel::Part(dp::TORSO_FRONT));
            }
        }
    }

    // The body piece of the upper garment, over everything below the arms. The upper garment
    // keeps the dense pose of the body under it (here and for the sleeves): labelled as torso,
    // its silhouette would tell the networks where the person's own garment ends (its hem, a
    // loose fit, the sleeves' length), which a transfer must not copy; and the person's dense
    // pose is then the same whatever they wear.
    let garment_id = Some(upper.garment.cihp);
    if let Some(piece) = upper.body_piece(&sk) {
        canvas.draw(&piece.path, &Fill::Texture(upper.texture.as_ref(), piece.transform), garment_id, PoseLabel::Keep);
    }

    // Arms in front of the body: skin first, sleeves over it.
    for arm in &sk.arms {
        let (arm_id, upper_ids, lower_ids, hand) = match arm.side {
            Side::Right => (cihp::RIGHT_ARM, dp::UPPER_ARM_RIGHT, dp::LOWER_ARM_RIGHT, dp::RIGHT_HAND),
            Side::Left => (cihp::LEFT_ARM, dp::UPPER_ARM_LEFT, dp::LOWER_ARM_LEFT, dp::LEFT_HAND),
        };
        draw_limb(&mut canvas, arm, &skin, arm_id, upper_ids, lower_ids);
        if let Some(path) = capsule(arm.end, arm.tip, arm.tip_radius, true, true) {
            canvas.draw(&path, &skin, Some(arm_id), PoseLabel::Part(hand));
        }
        for piece in upper.sleeve_pieces(&sk, arm.side) {
            canvas.draw(&piece.path, &Fill::Texture(upper.texture.as_ref(), piece.transform), garment_id, PoseLabel::Keep);
        }
    }
    debug_assert_eq!(side_index(Side::Right), 0);

    draw_head(&mut canvas, b, &sk);
    Some(canvas.finish())
}

fn draw_limb(canvas: &mut Canvas, limb: &Limb, fill: &Fill, id: u8, upper_ids: [u8; 2], lower_ids: [u8; 2]) {
    if let Some(path) = capsule(limb.root, limb.mid, limb.upper_radius, true, true) {
        canvas.draw(&path, fill, Some(id), split(limb.root, limb.mid, upper_ids));
    }
    if let Some(path) = capsule(limb.mid, limb.end, limb.lower_radius, true, true) {
        canvas.draw(&path, fill, Some(id), split(limb.mid, limb.end, lower_ids));
    }
}

/// The skin of the torso in the torso frame: shoulders to crotch.
fn torso_outline() -> Outline {
    use super::body::torso_half_width as w;
    let ys = [0.05, 0.3, 0.62, 0.92, 1.04];
    let mut pts = vec![p2(-0.3, 0.0)];
    pts.extend(ys.iter().map(|&y| p2(-w(y), y)));
    pts.extend(ys.iter().rev().map(|&y| p2(w(y), y)));
    pts.push(p2(0.3, 0.0));
    Outline::polygon(&pts)
}

fn draw_head(canvas: &mut Canvas, b: &Build, sk: &Skeleton) {
    let (c, rx, ry, angle) = (sk.head_centre, sk.head_rx, sk.head_ry, sk.head_angle);
    // Head axes: `up` towards the crown, `right` towards the person's left (image right).
    let up = p2(angle.sin(), -angle.cos());
    let right = p2(angle.cos(), angle.sin());
    let at = |a: f32, u: f32| c.add(right.scale(a * rx)).add(up.scale(u * ry));
    if let Some(path) = ellipse(c, rx, ry, angle) {
        let label = PoseLabel::Split { origin: c, dir: up, positive: dp::HEAD[1], negative: dp::HEAD[0] };
        canvas.draw(&path, &Fill::Solid(b.skin), Some(cihp::FACE), label);
    }
    // Eyes and mouth: details of the face, not labels.
    for s in [-1.0, 1.0] {
        if let Some(path) = ellipse(at(0.38 * s, 0.1), rx * 0.14, ry * 0.08, angle) {
            canvas.paint(&path, &Fill::Solid(b.eyes));
        }
    }
    let lips = [(b.skin[0] as f32 * 0.75) as u8, (b.skin[1] as f32 * 0.45) as u8, (b.skin[2] as f32 * 0.45) as u8];
    if let Some(path) = ellipse(at(0.0, -0.5), rx * 0.3, ry * 0.07, angle) {
        canvas.paint(&path, &Fill::Solid(lips));
    }
    let hair = Fill::Solid(b.hair);
    match b.hair_style {
        HairStyle::Hat => {
            if let Some(path) = ellipse(at(0.0, 0.62), rx * 1.08, ry * 0.5, angle) {
                canvas.draw(&path, &hair, Some(cihp::HAT), PoseLabel::Keep);
            }
            if let Some(path) = capsule(at(-1.35, 0.42), at(1.35, 0.42), ry * 0.08, true, true) {
                canvas.draw(&path, &hair, Some(cihp::HAT), PoseLabel::Keep);
            }
        }
        style => {
            // A cap of hair over the crown, down to the forehead.
            let depth = if style == HairStyle::Buzz { 0.45 } else { 0.25 };
            let cap = Outline::new(p2(-1.08, depth))
                .quad(p2(-1.12, 1.25), p2(0.0, 1.18))
                .quad(p2(1.12, 1.25), p2(1.08, depth))
                .quad(p2(0.0, 0.75), p2(-1.08, depth));
            let frame = super::geometry::Frame { origin: c, ea: right.scale(rx), eb: up.scale(ry) };
            if let Some(path) = cap.path(&frame) {
                canvas.draw(&path, &hair, Some(cihp::HAIR), PoseLabel::Keep);
            }
            if style == HairStyle::Bun {
                if let Some(path) = ellipse(at(0.0, 1.25), rx * 0.45, rx * 0.45, angle) {
                    canvas.draw(&path, &hair, Some(cihp::HAIR), PoseLabel::Keep);
                }
            }
        }
    }
}
