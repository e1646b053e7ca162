//! Points, body-segment frames and the outlines the mannequin and its garments are made of.
//!
//! Every garment piece is defined in the normalised frame of the body segment it is fixed to
//! (torso: x in half-shoulder widths, y in torso heights; limbs: u along the bone, v across it
//! in limb radii). Mapping the same normalised piece through another body's frame dresses that
//! body in the same garment, texture included.

use tiny_skia::{Path, PathBuilder, Transform};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct P2 {
    pub x: f32,
    pub y: f32,
}

pub const fn p2(x: f32, y: f32) -> P2 {
    P2 { x, y }
}

impl P2 {
    pub fn add(self, o: P2) -> P2 {
        p2(self.x + o.x, self.y + o.y)
    }
    pub fn sub(self, o: P2) -> P2 {
        p2(self.x - o.x, self.y - o.y)
    }
    pub fn scale(self, k: f32) -> P2 {
        p2(self.x * k, self.y * k)
    }
    pub fn len(self) -> f32 {
        self.x.hypot(self.y)
    }
    pub fn unit(self) -> P2 {
        let l = self.len().max(1e-6);
        p2(self.x / l, self.y / l)
    }
    /// Rotated +90 degrees (image coordinates: y points down).
    pub fn perp(self) -> P2 {
        p2(-self.y, self.x)
    }
    pub fn lerp(self, o: P2, t: f32) -> P2 {
        self.add(o.sub(self).scale(t))
    }
    pub fn cross(self, o: P2) -> f32 {
        self.x * o.y - self.y * o.x
    }
}

/// Unit direction at `angle` radians from straight down, turning towards +x.
pub fn down_dir(angle: f32) -> P2 {
    p2(angle.sin(), angle.cos())
}

/// An affine frame: local (a, b) maps to `origin + a * ea + b * eb`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub origin: P2,
    pub ea: P2,
    pub eb: P2,
}

impl Frame {
    pub fn map(&self, a: f32, b: f32) -> P2 {
        self.origin.add(self.ea.scale(a)).add(self.eb.scale(b))
    }

    /// The frame of a limb from joint `from` to joint `to` with radius `radius`: u runs from 0 at
    /// `from` to 1 at `to`, v in radii across the bone.
    pub fn limb(from: P2, to: P2, radius: f32) -> Frame {
        let axis = to.sub(from);
        Frame { origin: from, ea: axis, eb: axis.unit().perp().scale(radius) }
    }

    pub fn transform(&self) -> Transform {
        Transform::from_row(self.ea.x, self.ea.y, self.eb.x, self.eb.y, self.origin.x, self.origin.y)
    }

    /// The transform taking `self`'s pixels to `to`'s pixels through the shared local frame.
    pub fn onto(&self, to: &Frame) -> Transform {
        let inv = self.transform().invert().unwrap_or_default();
        to.transform().pre_concat(inv)
    }
}

/// An outline made of straight segments and quadratic curves, in some local frame.
#[derive(Debug, Clone, Default)]
pub struct Outline {
    cmds: Vec<Cmd>,
}

#[derive(Debug, Clone, Copy)]
enum Cmd {
    Move(P2),
    Line(P2),
    Quad(P2, P2),
}

impl Outline {
    pub fn new(start: P2) -> Outline {
        Outline { cmds: vec![Cmd::Move(start)] }
    }
    pub fn line(mut self, p: P2) -> Outline {
        self.cmds.push(Cmd::Line(p));
        self
    }
    pub fn quad(mut self, c: P2, p: P2) -> Outline {
        self.cmds.push(Cmd::Quad(c, p));
        self
    }
    pub fn polygon(points: &[P2]) -> Outline {
        let mut o = Outline::new(points[0]);
        for &p in &points[1..] {
            o = o.line(p);
        }
        o
    }

    /// The closed path of this outline mapped through `frame` (affine maps keep quadratic
    /// curves quadratic, so the mapping is exact). `None` when degenerate.
    pub fn path(&self, frame: &Frame) -> Option<Path> {
        let mut pb = PathBuilder::new();
        for cmd in &self.cmds {
            match *cmd {
                Cmd::Move(p) => {
                    let q = frame.map(p.x, p.y);
                    pb.move_to(q.x, q.y)
                }
                Cmd::Line(p) => {
                    let q = frame.map(p.x, p.y);
                    pb.line_to(q.x, q.y)
                }
                Cmd::Quad(c, p) => {
                    let (c, q) = (frame.map(c.x, c.y), frame.map(p.x, p.y));
                    pb.quad_to(c.x, c.y, q.x, q.y)
                }
            }
        }
        pb.close();
        pb.finish()
    }
}

/// A limb piece in pixels: from `a` to `b` with `radius`, with a round cap at either end or a
/// flat cut (a sleeve cuff, a trouser hem).
pub fn capsule(a: P2, b: P2, radius: f32, round_a: bool, round_b: bool) -> Option<Path> {
    let axis = b.sub(a);
    if axis.len() < 1e-3 || radius <= 0.0 {
        return None;
    }
    let d = axis.unit();
    let n = d.perp().scale(radius);
    let t = d.scale(radius);
    let mut pb = PathBuilder::new();
    let (a1, a2, b1, b2) = (a.add(n), a.sub(n), b.add(n), b.sub(n));
    pb.move_to(a1.x, a1.y);
    pb.line_to(b1.x, b1.y);
    if round_b {
        let tip = b.add(t);
        quarter_arc(&mut pb, b1, b1.add(t), tip);
        quarter_arc(&mut pb, tip, b2.add(t), b2);
    } else {
        pb.line_to(b2.x, b2.y);
    }
    pb.line_to(a2.x, a2.y);
    if round_a {
        let tip = a.sub(t);
        quarter_arc(&mut pb, a2, a2.sub(t), tip);
        quarter_arc(&mut pb, tip, a1.sub(t), a1);
    }
    pb.close();
    pb.finish()
}

/// A quarter circle from `from` (the current point) to `to` around the square's `corner`, as
/// the usual cubic (control points 0.5523 of the way to the corner).
fn quarter_arc(pb: &mut PathBuilder, from: P2, corner: P2, to: P2) {
    const K: f32 = 0.552_284_8;
    let (c1, c2) = (from.lerp(corner, K), to.lerp(corner, K));
    pb.cubic_to(c1.x, c1.y, c2.x, c2.y, to.x, to.y);
}

/// An ellipse centred at `c` with radii `rx`, `ry`, turned by `angle` radians.
pub fn ellipse(c: P2, rx: f32, ry: f32, angle: f32) -> Option<Path> {
    let rect = tiny_skia::Rect::from_xywh(-rx, -ry, 2.0 * rx, 2.0 * ry)?;
    let path = PathBuilder::from_oval(rect)?;
    path.transform(Transform::from_rotate(angle.to_degrees()).post_translate(c.x, c.y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_onto_maps_shared_local_points() {
        let a = Frame::limb(p2(10.0, 10.0), p2(10.0, 50.0), 5.0);
        let b = Frame::limb(p2(100.0, 20.0), p2(140.0, 20.0), 8.0);
        let t = a.onto(&b);
        let mut pt = tiny_skia::Point::from_xy(a.map(0.5, 1.0).x, a.map(0.5, 1.0).y);
        t.map_point(&mut pt);
        let want = b.map(0.5, 1.0);
        assert!((pt.x - want.x).abs() < 1e-3 && (pt.y - want.y).abs() < 1e-3, "{pt:?} vs {want:?}");
    }

    #[test]
    fn capsule_bounds_include_round_caps() {
        let p = capsule(p2(10.0, 10.0), p2(10.0, 30.0), 4.0, true, false).unwrap();
        let b = p.bounds();
        assert!((b.top() - 6.0).abs() < 0.5, "round start cap reaches one radius back: {b:?}");
        assert!((b.bottom() - 30.0).abs() < 1e-3, "flat end stops at the joint: {b:?}");
    }
}
