//! Garments: what an upper garment and a lower garment are (shape in body-segment frames,
//! fabric), the garment's texture canvas, and its flat in-shop picture.
//!
//! An upper garment is tailored once onto a canonical shop mannequin laid flat on a canvas. The
//! texture lives on that canvas; on any person the garment's pieces are drawn through the map
//! from the shop mannequin's segment frames to the person's, so stripes and prints stay fixed
//! to the same spots of the garment whatever the body or the pose.

use tiny_skia::{
    Color, GradientStop, LinearGradient, Paint, PathBuilder, Pixmap, Point, Rect, SpreadMode, Transform,
};

use super::body::{Build, HairStyle, Limb, Pose, Side, Skeleton, torso_half_width};
use super::geometry::{Outline, P2, capsule, p2};
use crate::rng::Rng;
use crate::data::cihp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sleeves {
    None,
    Short,
    Elbow,
    Long,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Neckline {
    Crew,
    V,
    Scoop,
    Boat,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pattern {
    Solid,
    /// Stripes at `angle` degrees, `period` in canvas heights, `duty` the share of the second colour.
    Stripes { angle: f32, period: f32, duty: f32 },
    Checks { period: f32 },
    Dots { spacing: f32, radius: f32 },
    Gradient { angle: f32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkShape {
    Star,
    Ring,
    Triangle,
    Band,
}

/// A printed mark on the chest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    pub shape: MarkShape,
    pub colour: [u8; 3],
    /// Size in half-shoulder widths.
    pub size: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fabric {
    pub base: [u8; 3],
    pub second: [u8; 3],
    pub pattern: Pattern,
    pub mark: Option<Mark>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpperGarment {
    pub sleeves: Sleeves,
    pub neckline: Neckline,
    /// Hem height in torso heights (1 = crotch): cropped, regular or tunic.
    pub hem: f32,
    /// Extra width of the body piece, in half-shoulder widths.
    pub ease: f32,
    /// Extra sleeve width, in arm radii.
    pub sleeve_ease: f32,
    /// CIHP class the parsing gives it: upper clothes, dress (tunics) or coat.
    pub cihp: u8,
    pub fabric: Fabric,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LowerKind {
    Trousers,
    Shorts,
    Skirt,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LowerGarment {
    pub kind: LowerKind,
    pub colour: [u8; 3],
    /// Extra width in leg radii (half-shoulder widths for the waist and the skirt).
    pub ease: f32,
    /// Skirt length below the crotch, in torso heights, and its flare.
    pub skirt_length: f32,
    pub skirt_flare: f32,
}

fn random_colour(rng: &mut Rng) -> [u8; 3] {
    // Saturated and muted colours alike, never identical to the background's greys.
    let h = rng.unit() * 6.0;
    let s = rng.range(0.25, 0.95);
    let v = rng.range(0.3, 0.95);
    let c = v * s;
    let x = c * (1.0 - ((h % 2.0) - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [((r + m) * 255.0) as u8, ((g + m) * 255.0) as u8, ((b + m) * 255.0) as u8]
}

impl UpperGarment {
    pub fn random(rng: &mut Rng) -> UpperGarment {
        let sleeves = rng.choose(&[Sleeves::None, Sleeves::Short, Sleeves::Short, Sleeves::Elbow, Sleeves::Long, Sleeves::Long]);
        let hem = rng.choose(&[0.62, 0.85, 0.9, 1.15]) + rng.range(-0.03, 0.03);
        let pattern = match rng.below(6) {
            0 => Pattern::Solid,
            1 => Pattern::Stripes {
                angle: rng.choose(&[0.0, 90.0, 45.0, -45.0]),
                period: rng.range(0.035, 0.08),
                duty: rng.range(0.3, 0.6),
            },
            2 => Pattern::Checks { period: rng.range(0.05, 0.1) },
            3 => Pattern::Dots { spacing: rng.range(0.04, 0.08), radius: rng.range(0.18, 0.35) },
            4 => Pattern::Gradient { angle: rng.range(0.0, 180.0) },
            _ => Pattern::Stripes { angle: 0.0, period: rng.range(0.1, 0.18), duty: 0.5 },
        };
        let mark = rng.chance(0.4).then(|| Mark {
            shape: rng.choose(&[MarkShape::Star, MarkShape::Ring, MarkShape::Triangle, MarkShape::Band]),
            colour: random_colour(rng),
            size: rng.range(0.25, 0.4),
        });
        let cihp = if hem > 1.0 {
            cihp::DRESS
        } else if sleeves == Sleeves::Long && rng.chance(0.5) {
            cihp::COAT
        } else {
            cihp::UPPER_CLOTHES
        };
        UpperGarment {
            sleeves,
            neckline: rng.choose(&[Neckline::Crew, Neckline::V, Neckline::Scoop, Neckline::Boat]),
            hem,
            ease: rng.range(0.04, 0.14),
            sleeve_ease: rng.range(0.2, 0.45),
            cihp,
            fabric: Fabric { base: random_colour(rng), second: random_colour(rng), pattern, mark },
        }
    }

    /// Where the sleeves end, as fractions of (upper arm, forearm); `None` for no piece there.
    pub fn sleeve_ends(&self) -> (Option<f32>, Option<f32>) {
        match self.sleeves {
            Sleeves::None => (None, None),
            Sleeves::Short => (Some(0.5), None),
            Sleeves::Elbow => (Some(1.0), Some(0.45)),
            Sleeves::Long => (Some(1.0), Some(0.97)),
        }
    }

    /// The body piece in the torso frame.
    pub fn body_outline(&self) -> Outline {
        let e = self.ease;
        let (nw, nd, curved) = match self.neckline {
            Neckline::Crew => (0.34, 0.1, true),
            Neckline::V => (0.3, 0.36, false),
            Neckline::Scoop => (0.42, 0.26, true),
            Neckline::Boat => (0.56, 0.06, true),
        };
        let side = |y: f32| torso_half_width(y) + e;
        let hem = self.hem;
        // Down the person's right side (x < 0), across the hem, up the left side.
        let mut right = Vec::new();
        if self.sleeves == Sleeves::None {
            right.push(p2(-(nw + 0.24), -0.01));
            right.push(p2(-side(0.32), 0.32));
        } else {
            right.push(p2(-(1.0 + e * 0.6), 0.03));
            right.push(p2(-side(0.3), 0.3));
        }
        for y in [0.62, 0.92, 1.05] {
            if y < hem {
                right.push(p2(-side(y), y));
            }
        }
        let flare = if hem > 1.0 { (hem - 1.0) * 0.6 } else { 0.0 };
        right.push(p2(-(side(hem) + flare), hem));

        let mut o = Outline::new(p2(0.0, nd));
        o = if curved { o.quad(p2(-nw * 0.95, nd), p2(-nw, 0.0)) } else { o.line(p2(-nw, 0.0)) };
        for &p in &right {
            o = o.line(p);
        }
        for &p in right.iter().rev() {
            o = o.line(p2(-p.x, p.y));
        }
        o = o.line(p2(nw, 0.0));
        if curved { o.quad(p2(nw * 0.95, nd), p2(0.0, nd)) } else { o.line(p2(0.0, nd)) }
    }
}

impl LowerGarment {
    pub fn random(rng: &mut Rng) -> LowerGarment {
        let kind = rng.choose(&[LowerKind::Trousers, LowerKind::Trousers, LowerKind::Shorts, LowerKind::Skirt]);
        let colour = rng.choose(&[[40, 55, 90], [60, 80, 130], [30, 30, 35], [120, 100, 80], [170, 160, 140], [90, 40, 40]]);
        LowerGarment {
            kind,
            colour,
            ease: rng.range(0.06, 0.2),
            skirt_length: rng.range(0.35, 0.7),
            skirt_flare: rng.range(0.1, 0.45),
        }
    }

    pub fn cihp(&self) -> u8 {
        if self.kind == LowerKind::Skirt { cihp::SKIRT } else { cihp::PANTS }
    }

    /// The waist band in the torso frame.
    pub fn waist_outline(&self) -> Outline {
        let top = 0.8;
        let bottom = 1.04;
        let e = self.ease * 0.3;
        let w = |y: f32| torso_half_width(y) + e;
        Outline::polygon(&[
            p2(-w(top), top),
            p2(w(top), top),
            p2(w(0.92), 0.92),
            p2(w(bottom), bottom),
            p2(-w(bottom), bottom),
            p2(-w(0.92), 0.92),
        ])
    }

    /// The skirt below the waist band in the torso frame (starts inside the band, so the two
    /// pieces overlap instead of leaving an anti-aliased seam).
    pub fn skirt_outline(&self) -> Outline {
        let top = 0.95;
        let w = torso_half_width(top) + self.ease * 0.3;
        let bottom = 1.0 + self.skirt_length;
        let wb = w + self.skirt_flare;
        Outline::polygon(&[p2(-w, top), p2(w, top), p2(wb, bottom), p2(-wb, bottom)])
    }

    /// Where the legs are covered, as fractions of (thigh, shank).
    pub fn leg_ends(&self) -> (Option<f32>, Option<f32>) {
        match self.kind {
            LowerKind::Trousers => (Some(1.0), Some(0.96)),
            LowerKind::Shorts => (Some(0.55), None),
            LowerKind::Skirt => (None, None),
        }
    }
}

/// An upper garment made up: its texture canvas and the shop mannequin it lies flat on.
pub struct Tailored {
    pub garment: UpperGarment,
    pub texture: Pixmap,
    /// The shop mannequin's skeleton on the texture canvas.
    pub shop: Skeleton,
}

/// A piece of a garment: its outline in pixels and where its texture comes from.
pub struct Piece {
    pub path: tiny_skia::Path,
    /// Texture canvas to image pixels.
    pub transform: Transform,
}

impl Tailored {
    /// Make up `garment` on a `width` x `height` canvas.
    pub fn new(garment: UpperGarment, width: u32, height: u32) -> Option<Tailored> {
        let shop = shop_skeleton(&garment, width as f32, height as f32)?;
        let texture = weave(&garment.fabric, &shop, width, height)?;
        Some(Tailored { garment, texture, shop })
    }

    /// The body piece on `body`.
    pub fn body_piece(&self, body: &Skeleton) -> Option<Piece> {
        Some(Piece {
            path: self.garment.body_outline().path(&body.torso)?,
            transform: self.shop.torso.onto(&body.torso),
        })
    }

    /// The sleeve pieces of one arm on `body`: upper arm then forearm.
    pub fn sleeve_pieces(&self, body: &Skeleton, side: Side) -> Vec<Piece> {
        let i = side_index(side);
        let (arm, shop_arm) = (&body.arms[i], &self.shop.arms[i]);
        let (upper_end, lower_end) = self.garment.sleeve_ends();
        let widen = 1.0 + self.garment.sleeve_ease;
        let mut pieces = Vec::new();
        if let Some(u) = upper_end {
            let path = capsule(arm.root, arm.root.lerp(arm.mid, u), arm.upper_radius * widen, true, u >= 1.0);
            if let Some(path) = path {
                pieces.push(Piece { path, transform: shop_arm.upper_frame().onto(&arm.upper_frame()) });
            }
        }
        if let Some(u) = lower_end {
            let path = capsule(arm.mid, arm.mid.lerp(arm.end, u), arm.lower_radius * widen, true, false);
            if let Some(path) = path {
                pieces.push(Piece { path, transform: shop_arm.lower_frame().onto(&arm.lower_frame()) });
            }
        }
        pieces
    }

    /// The flat in-shop picture (garment on white) and its mask.
    pub fn shop_picture(&self) -> Option<(Pixmap, Vec<u8>)> {
        let (w, h) = (self.texture.width(), self.texture.height());
        let mut picture = Pixmap::new(w, h)?;
        picture.fill(Color::WHITE);
        let mut mask = tiny_skia::Mask::new(w, h)?;
        let mut pieces: Vec<Piece> = Vec::new();
        for side in Side::BOTH {
            pieces.extend(self.sleeve_pieces(&self.shop, side));
        }
        pieces.extend(self.body_piece(&self.shop));
        for piece in &pieces {
            let mut paint = Paint { anti_alias: true, ..Paint::default() };
            paint.shader = tiny_skia::Pattern::new(
                self.texture.as_ref(),
                SpreadMode::Pad,
                tiny_skia::FilterQuality::Nearest,
                1.0,
                piece.transform,
            );
            picture.fill_path(&piece.path, &paint, tiny_skia::FillRule::Winding, Transform::identity(), None);
            mask.fill_path(&piece.path, tiny_skia::FillRule::Winding, false, Transform::identity());
        }
        let mask = mask.data().iter().map(|&m| if m > 0 { 255 } else { 0 }).collect();
        Some((picture, mask))
    }
}

pub fn side_index(side: Side) -> usize {
    match side {
        Side::Right => 0,
        Side::Left => 1,
    }
}

/// The shop mannequin: a canonical build with arms a little away from the body, scaled and
/// centred so that the garment fills the canvas with a margin, as a product photo does.
fn shop_skeleton(garment: &UpperGarment, width: f32, height: f32) -> Option<Skeleton> {
    let build = Build {
        torso: 1.0,
        shoulder: 0.5,
        upper_arm: 0.56,
        forearm: 0.5,
        arm_radius: 0.095,
        thigh: 0.85,
        shank: 0.83,
        leg_radius: 0.16,
        head: 0.33,
        skin: [0; 3],
        hair_style: HairStyle::Buzz,
        hair: [0; 3],
        eyes: [0; 3],
        shoes: [0; 3],
    };
    let pose = Pose {
        neck: p2(0.0, 0.0),
        tilt: 0.0,
        head_tilt: 0.0,
        shoulder: [0.38, 0.38],
        elbow: [0.0, 0.0],
        hip: [0.1, 0.1],
        knee: [0.0, 0.0],
    };
    let unit = build.skeleton(&pose);
    let dummy = Tailored { garment: garment.clone(), texture: Pixmap::new(1, 1)?, shop: unit.clone() };
    let mut bounds: Option<Rect> = None;
    let mut pieces: Vec<Piece> = dummy.sleeve_pieces(&unit, Side::Right);
    pieces.extend(dummy.sleeve_pieces(&unit, Side::Left));
    pieces.extend(dummy.body_piece(&unit));
    for p in &pieces {
        let b = p.path.bounds();
        bounds = Some(match bounds {
            None => b,
            Some(a) => Rect::from_ltrb(a.left().min(b.left()), a.top().min(b.top()), a.right().max(b.right()), a.bottom().max(b.bottom()))?,
        });
    }
    let b = bounds?;
    let k = (0.9 * width / b.width()).min(0.9 * height / b.height());
    let centre = p2((b.left() + b.right()) / 2.0, (b.top() + b.bottom()) / 2.0);
    let build = Build { torso: k, ..build };
    let pose = Pose { neck: p2(width / 2.0, height / 2.0).sub(centre.scale(k)), ..pose };
    Some(build.skeleton(&pose))
}

/// Render the fabric over the whole canvas, and the printed mark at the shop mannequin's chest.
fn weave(fabric: &Fabric, shop: &Skeleton, width: u32, height: u32) -> Option<Pixmap> {
    let mut pm = Pixmap::new(width, height)?;
    let colour = |c: [u8; 3], a: u8| Color::from_rgba8(c[0], c[1], c[2], a);
    pm.fill(colour(fabric.base, 255));
    let (w, h) = (width as f32, height as f32);
    let diag = w.hypot(h);
    let centre = (w / 2.0, h / 2.0);
    let mut paint = Paint { anti_alias: true, ..Paint::default() };
    let stripes = |pm: &mut Pixmap, paint: &Paint, angle: f32, period: f32, thickness: f32| {
        let mut pb = PathBuilder::new();
        let n = (diag / period).ceil() as i32;
        for k in -n..=n {
            let y = k as f32 * period;
            if let Some(r) = Rect::from_xywh(-diag, y, 2.0 * diag, thickness) {
                pb.push_rect(r);
            }
        }
        if let Some(path) = pb.finish() {
            let t = Transform::from_rotate(angle).post_translate(centre.0, centre.1);
            pm.fill_path(&path, paint, tiny_skia::FillRule::Winding, t, None);
        }
    };
    match fabric.pattern {
        Pattern::Solid => {}
        Pattern::Stripes { angle, period, duty } => {
            paint.set_color(colour(fabric.second, 255));
            stripes(&mut pm, &paint, angle, period * h, period * h * duty);
        }
        Pattern::Checks { period } => {
            // Gingham: two half-transparent stripe sets, darker where they cross.
            paint.set_color(colour(fabric.second, 140));
            stripes(&mut pm, &paint, 0.0, period * h, period * h / 2.0);
            stripes(&mut pm, &paint, 90.0, period * h, period * h / 2.0);
        }
        Pattern::Dots { spacing, radius } => {
            paint.set_color(colour(fabric.second, 255));
            let s = spacing * h;
            let mut pb = PathBuilder::new();
            let (nx, ny) = ((w / s).ceil() as i32 + 1, (h / s).ceil() as i32 + 1);
            for j in 0..ny {
                for i in 0..nx {
                    let x = i as f32 * s + if j % 2 == 1 { s / 2.0 } else { 0.0 };
                    pb.push_circle(x, j as f32 * s, s * radius);
                }
            }
            if let Some(path) = pb.finish() {
                pm.fill_path(&path, &paint, tiny_skia::FillRule::Winding, Transform::identity(), None);
            }
        }
        Pattern::Gradient { angle } => {
            let (s, c) = angle.to_radians().sin_cos();
            let (dx, dy) = (c * w / 2.0, s * h / 2.0);
            paint.shader = LinearGradient::new(
                Point::from_xy(centre.0 - dx, centre.1 - dy),
                Point::from_xy(centre.0 + dx, centre.1 + dy),
                vec![GradientStop::new(0.0, colour(fabric.base, 255)), GradientStop::new(1.0, colour(fabric.second, 255))],
                SpreadMode::Pad,
                Transform::identity(),
            )?;
            pm.fill_rect(Rect::from_xywh(0.0, 0.0, w, h)?, &paint, Transform::identity(), None);
        }
    }
    if let Some(mark) = fabric.mark {
        let mut paint = Paint { anti_alias: true, ..Paint::default() };
        paint.set_color(colour(mark.colour, 255));
        let chest = shop.torso.map(0.0, 0.38);
        let r = mark.size * shop.torso.ea.len();
        let path = match mark.shape {
            MarkShape::Star => star(chest, r),
            MarkShape::Ring => {
                let mut pb = PathBuilder::new();
                pb.push_circle(chest.x, chest.y, r);
                pb.push_circle(chest.x, chest.y, r * 0.6);
                pb.finish()
            }
            MarkShape::Triangle => Outline::polygon(&[p2(0.0, -1.0), p2(0.87, 0.5), p2(-0.87, 0.5)]).path(
                &super::geometry::Frame { origin: chest, ea: p2(r, 0.0), eb: p2(0.0, r) },
            ),
            MarkShape::Band => Rect::from_xywh(0.0, chest.y - r * 0.35, w, r * 0.7).map(PathBuilder::from_rect),
        };
        if let Some(path) = path {
            // Even-odd makes the ring a ring.
            pm.fill_path(&path, &paint, tiny_skia::FillRule::EvenOdd, Transform::identity(), None);
        }
    }
    Some(pm)
}

fn star(c: P2, r: f32) -> Option<tiny_skia::Path> {
    let points: Vec<P2> = (0..10)
        .map(|i| {
            let a = i as f32 * std::f32::consts::PI / 5.0 - std::f32::consts::FRAC_PI_2;
            let rr = if i % 2 == 0 { r } else { r * 0.45 };
            p2(c.x + rr * a.cos(), c.y + rr * a.sin())
        })
        .collect();
    Outline::polygon(&points).path(&super::geometry::Frame { origin: p2(0.0, 0.0), ea: p2(1.0, 0.0), eb: p2(0.0, 1.0) })
}

/// The limb pieces of a lower garment on one leg: thigh then shank.
pub fn trouser_pieces(lower: &LowerGarment, leg: &Limb) -> Vec<tiny_skia::Path> {
    let (thigh_end, shank_end) = lower.leg_ends();
    let widen = 1.0 + lower.ease;
    let mut out = Vec::new();
    if let Some(u) = thigh_end {
        out.extend(capsule(leg.root, leg.root.lerp(leg.mid, u), leg.upper_radius * widen, true, u >= 1.0));
    }
    if let Some(u) = shank_end {
        out.extend(capsule(leg.mid, leg.mid.lerp(leg.end, u), leg.lower_radius * widen * 1.15, true, false));
    }
    out
}
