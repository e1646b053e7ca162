//! The synthetic world: people, their garments, datasets and video sequences, all drawn from a
//! seed, with the true result of every garment transfer.

use super::body::{Build, Pose};
use super::canvas::Drawing;
use super::garment::{LowerGarment, Tailored, UpperGarment};
use super::geometry::p2;
use super::person::{Background, Look, draw_person};
use crate::rng::Rng;

/// Streams of the generator: one per kind of draw, so that adding one never shifts another.
const PERSON_STREAM: u64 = 1;
const PAIR_STREAM: u64 = 2;
const SEQUENCE_STREAM: u64 = 3;
const FRAMING_STREAM: u64 = 4;

/// A person of the world: look, pose and the upper garment they own.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub look: Look,
    pub pose: Pose,
    pub upper: UpperGarment,
    /// Where a `varied` world shot this person: a scene of another size, letterboxed into the
    /// world's picture. `None`: the picture is the scene (the datasets' own framing).
    pub scene: Option<Scene>,
}

/// A scene letterboxed into the world's picture, centred, as the element letterboxes a camera
/// frame into the models' input: the bars mid-grey (the models' zero), background in the labels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scene {
    pub width: u32,
    pub height: u32,
}

impl Scene {
    /// Top-left corner of the scene in a `width` x `height` picture.
    fn offset(&self, width: u32, height: u32) -> (u32, u32) {
        ((width - self.width) / 2, (height - self.height) / 2)
    }
}

/// One person rendered: the dataset sample of the VITON-HD layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub person: Drawing,
    /// The in-shop picture of the person's upper garment (RGB) and its mask (0 or 255).
    pub cloth: Vec<u8>,
    pub cloth_mask: Vec<u8>,
    /// COCO-18 keypoints as OpenPose writes them: x, y, confidence.
    pub keypoints: Vec<[f32; 3]>,
}

#[derive(Debug, Clone, Copy)]
pub struct World {
    pub width: u32,
    pub height: u32,
    pub seed: u64,
    /// People shot in every framing (see `varied`), not only filling the picture.
    pub varied: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("image size {0}x{1} is outside 16..=8192 pixels per side")]
    Size(u32, u32),
}

impl World {
    pub fn new(width: u32, height: u32, seed: u64) -> Result<World, WorldError> {
        if !(16..=8192).contains(&width) || !(16..=8192).contains(&height) {
            return Err(WorldError::Size(width, height));
        }
        Ok(World { width, height, seed, varied: false })
    }

    /// This world with its people shot as a camera sees them, for the frame networks that must
    /// find a person in any frame: half as in the datasets; the rest in a scene of a random
    /// aspect (portrait to 16:9) letterboxed into the picture, at 12% to 100% of the scene's
    /// height, anywhere across it. The same people (the same draws), only framed otherwise.
    pub fn varied(self) -> World {
        World { varied: true, ..self }
    }

    /// Person `index` of this world.
    pub fn person(&self, index: u64) -> Person {
        let mut rng = Rng::derive(self.seed, PERSON_STREAM, index);
        let mut person = self.random_person(&mut rng);
        if self.varied {
            // A stream of its own: varying the framing shifts no other draw.
            let mut rng = Rng::derive(self.seed, FRAMING_STREAM, index);
            if !rng.chance(0.5) {
                self.frame_in_scene(&mut person, &mut rng);
            }
        }
        person
    }

    /// Shoot `person` in a scene of a random aspect, at a random size and place in it.
    fn frame_in_scene(&self, person: &mut Person, rng: &mut Rng) {
        let (w, h) = (self.width as f32, self.height as f32);
        let aspect = rng.range(0.6, 1.8);
        let (sw, sh) = if aspect > w / h { (w, (w / aspect).round().max(16.0)) } else { ((h * aspect).round().max(16.0), h) };
        let scene = Scene { width: sw as u32, height: sh as u32 };
        let share = rng.range(0.12, 1.0);
        let x = sw * rng.range(0.1, 0.9);
        place(person, share, x, sh);
        person.scene = Some(scene);
    }

    fn random_person(&self, rng: &mut Rng) -> Person {
        let (w, h) = (self.width as f32, self.height as f32);
        // From a VITON-HD-like upper-body shot down to a full figure. Size follows the shorter
        // side so that landscape video frames hold the whole torso too.
        let torso = h.min(w * 1.6) * rng.range(0.26, 0.36);
        let build = Build::random(rng, torso);
        let head_top = build.head * torso * 1.1 + 0.07 * torso;
        let neck = p2(w * rng.range(0.42, 0.58), h * rng.range(0.04, 0.1) + head_top);
        Person {
            look: Look { build, lower: LowerGarment::random(rng), background: Background::random(rng) },
            pose: Pose::random(rng, neck),
            upper: UpperGarment::random(rng),
            scene: None,
        }
    }

    pub fn tailor(&self, garment: &UpperGarment) -> Option<Tailored> {
        Tailored::new(garment.clone(), self.width, self.height)
    }

    /// Draw `person` wearing `garment` (their own, or another's for a transfer).
    pub fn draw(&self, person: &Person, garment: &Tailored) -> Option<Drawing> {
        self.draw_posed(person, &person.pose, garment)
    }

    pub fn draw_posed(&self, person: &Person, pose: &Pose, garment: &Tailored) -> Option<Drawing> {
        let Some(scene) = person.scene else {
            return draw_person(&person.look, pose, garment, self.width, self.height);
        };
        let shot = draw_person(&person.look, pose, garment, scene.width, scene.height)?;
        Some(letterbox(&shot, scene.offset(self.width, self.height), self.width, self.height))
    }

    /// Sample `index`: the person, their in-shop garment and keypoints.
    pub fn sample(&self, index: u64) -> Option<Sample> {
        let person = self.person(index);
        let tailored = self.tailor(&person.upper)?;
        self.sample_of(&person, &tailored)
    }

    pub fn sample_of(&self, person: &Person, tailored: &Tailored) -> Option<Sample> {
        let drawing = self.draw(person, tailored)?;
        let (cloth, cloth_mask) = tailored.shop_picture()?;
        let cloth = cloth.data().chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
        Some(Sample { person: drawing, cloth, cloth_mask, keypoints: self.keypoints(person, &person.pose) })
    }

    /// The true garment transfer: person `a` in their own pose wearing `b`'s upper garment.
    pub fn transfer(&self, a: &Person, b: &Person) -> Option<Drawing> {
        self.draw(a, &self.tailor(&b.upper)?)
    }

    /// `k` transfer pairs (A, B) among `count` samples: A runs through the people in turn (so
    /// with `k >= count` everyone receives a garment), B is drawn at random, never A; no pair twice.
    pub fn pairs(&self, count: usize, k: usize) -> Vec<(usize, usize)> {
        if count < 2 {
            return Vec::new();
        }
        let mut rng = Rng::derive(self.seed, PAIR_STREAM, 0);
        let mut seen = std::collections::HashSet::new();
        (0..k.min(count * (count - 1)))
            .map(|i| {
                let a = i % count;
                // Another B while this (A, B) is taken: each true result is written once.
                let mut b = (a + 1 + rng.below(count - 1)) % count;
                while !seen.insert((a, b)) {
                    b = (b + 1) % count;
                    if b == a {
                        b = (b + 1) % count;
                    }
                }
                (a, b)
            })
            .collect()
    }

    /// A video: one person moving smoothly through `frames` poses, and a reference person
    /// (someone else, in another garment) for the transfer.
    pub fn sequence(&self, frames: usize) -> Sequence {
        self.sequence_framed(frames, Framing::default())
    }

    /// `sequence`, with the person placed by `framing`: the same people (the same draws of
    /// the generator), only their size and position differ.
    pub fn sequence_framed(&self, frames: usize, framing: Framing) -> Sequence {
        let mut seq = self.sequence_drawn(frames);
        let (w, h) = (self.width as f32, self.height as f32);
        if let Some(share) = framing.person_height {
            place(&mut seq.person, share, w * 0.5, h);
            let neck_y = seq.person.pose.neck.y;
            let n = seq.poses.len().max(2) as f32 - 1.0;
            for (f, pose) in seq.poses.iter_mut().enumerate() {
                let x = if framing.walk { w * (0.2 + 0.6 * f as f32 / n) } else { w * 0.5 };
                pose.neck = p2(x, neck_y);
            }
            seq.person.pose = seq.poses[0];
        }
        seq
    }

    fn sequence_drawn(&self, frames: usize) -> Sequence {
        let mut rng = Rng::derive(self.seed, SEQUENCE_STREAM, 0);
        let person = self.random_person(&mut rng);
        let reference = self.random_person(&mut rng);
        // A few key poses visited in turn, eased with a smoothstep: continuous position and
        // velocity, like a person shifting their stance and moving their arms.
        let keys: Vec<Pose> = (0..4)
            .map(|i| {
                if i == 0 {
                    person.pose
                } else {
                    let drift = p2(self.width as f32 * rng.range(-0.08, 0.08), 0.0);
                    Pose::random(&mut rng, person.pose.neck.add(drift))
                }
            })
            .collect();
        let poses = (0..frames)
            .map(|f| {
                let t = if frames > 1 { f as f32 / (frames - 1) as f32 } else { 0.0 } * (keys.len() - 1) as f32;
                let k = (t.floor() as usize).min(keys.len() - 2);
                let s = t - k as f32;
                keys[k].lerp(&keys[k + 1], s * s * (3.0 - 2.0 * s))
            })
            .collect();
        Sequence { person, reference, poses }
    }

    /// COCO-18 keypoints (OpenPose order) of `person` in `pose`; points outside the image get
    /// confidence 0, as OpenPose reports undetected joints.
    pub fn keypoints(&self, person: &Person, pose: &Pose) -> Vec<[f32; 3]> {
        let sk = person.look.build.skeleton(pose);
        let (r_arm, l_arm) = (&sk.arms[0], &sk.arms[1]);
        let (r_leg, l_leg) = (&sk.legs[0], &sk.legs[1]);
        let c = sk.head_centre;
        let (ex, ey) = (sk.head_rx, sk.head_ry);
        let points = [
            p2(c.x, c.y + 0.1 * ey),
            sk.torso.origin,
            r_arm.root,
            r_arm.mid,
            r_arm.end,
            l_arm.root,
            l_arm.mid,
            l_arm.end,
            r_leg.root,
            r_leg.mid,
            r_leg.end,
            l_leg.root,
            l_leg.mid,
            l_leg.end,
            p2(c.x - 0.38 * ex, c.y - 0.1 * ey),
            p2(c.x + 0.38 * ex, c.y - 0.1 * ey),
            p2(c.x - ex, c.y),
            p2(c.x + ex, c.y),
        ];
        // Scene pixels; a letterboxed scene's lie at its offset in the picture.
        let (sw, sh, (ox, oy)) = match person.scene {
            Some(scene) => (scene.width as f32, scene.height as f32, scene.offset(self.width, self.height)),
            None => (self.width as f32, self.height as f32, (0, 0)),
        };
        points
            .iter()
            .map(|p| if p.x >= 0.0 && p.y >= 0.0 && p.x < sw && p.y < sh { [p.x + ox as f32, p.y + oy as f32, 1.0] } else { [0.0, 0.0, 0.0] })
            .collect()
    }
}

/// Scale `person` to `share` of a scene `scene_h` pixels tall (head top to feet), the neck at
/// `x`, the figure's middle a little below the scene's.
fn place(person: &mut Person, share: f32, x: f32, scene_h: f32) {
    // Head top to feet, in torso heights (see `Build::skeleton`): head, neck, torso, legs.
    let b = &mut person.look.build;
    let tall = b.head * 1.1 + 0.07 + 1.0 + b.thigh + b.shank + 0.06;
    let torso = share * scene_h / tall;
    b.torso = torso;
    let head_top = b.head * torso * 1.1 + 0.07 * torso;
    person.pose.neck = p2(x, 0.55 * scene_h - share * scene_h / 2.0 + head_top);
}

/// `shot` centred at `offset` in a `width` x `height` picture: mid-grey bars, background labels.
fn letterbox(shot: &Drawing, offset: (u32, u32), width: u32, height: u32) -> Drawing {
    let n = (width * height) as usize;
    let mut out = Drawing { width, height, rgb: vec![128; n * 3], cihp: vec![0; n], densepose: vec![0; n] };
    let (sw, ox, oy) = (shot.width as usize, offset.0 as usize, offset.1 as usize);
    for y in 0..shot.height as usize {
        let (src, dst) = (y * sw, (y + oy) * width as usize + ox);
        out.rgb[dst * 3..(dst + sw) * 3].copy_from_slice(&shot.rgb[src * 3..(src + sw) * 3]);
        out.cihp[dst..dst + sw].copy_from_slice(&shot.cihp[src..src + sw]);
        out.densepose[dst..dst + sw].copy_from_slice(&shot.densepose[src..src + sw]);
    }
    out
}

/// Where a video puts its person.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Framing {
    /// The person's height as a share of the frame's; `None`: the world's own framing (a
    /// person filling most of the frame, as in the datasets).
    pub person_height: Option<f32>,
    /// Walk across the frame from a fifth of its width to four fifths.
    pub walk: bool,
}

/// A person moving through poses, and the reference person whose garment they try on.
pub struct Sequence {
    pub person: Person,
    pub reference: Person,
    pub poses: Vec<Pose>,
}
