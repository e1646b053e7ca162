//! The 2D mannequin: body proportions, a pose, and the skeleton (joints and segment frames)
//! they give in pixels.

use super::geometry::{Frame, P2, down_dir, p2};
use crate::rng::Rng;

/// Which side of the body. The person faces the camera, so their right is the image's left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Right,
    Left,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Right, Side::Left];
    /// -1 for the right side (image left), +1 for the left side.
    pub fn sign(self) -> f32 {
        match self {
            Side::Right => -1.0,
            Side::Left => 1.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HairStyle {
    Short,
    Long,
    Bun,
    Buzz,
    Hat,
}

/// What does not change while a person moves: proportions, colours, hair.
#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    /// Torso height (neck base to crotch) in pixels.
    pub torso: f32,
    /// Half the shoulder width, as a fraction of the torso height.
    pub shoulder: f32,
    pub upper_arm: f32,
    pub forearm: f32,
    pub arm_radius: f32,
    pub thigh: f32,
    pub shank: f32,
    pub leg_radius: f32,
    pub head: f32,
    pub skin: [u8; 3],
    pub hair_style: HairStyle,
    pub hair: [u8; 3],
    pub eyes: [u8; 3],
    pub shoes: [u8; 3],
}

/// What moves: position and joint angles (radians).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    /// Neck base in pixels.
    pub neck: P2,
    /// Torso lean, positive turns the torso's bottom towards +x.
    pub tilt: f32,
    pub head_tilt: f32,
    /// Shoulder abduction per side (right, left): 0 hangs straight down, positive lifts outwards.
    pub shoulder: [f32; 2],
    /// Elbow bend per side: positive brings the forearm in front of the body.
    pub elbow: [f32; 2],
    /// Hip abduction per side.
    pub hip: [f32; 2],
    pub knee: [f32; 2],
}

/// Joints and segment frames in pixels.
#[derive(Debug, Clone)]
pub struct Skeleton {
    /// Torso frame: x in half-shoulder widths (+x is the person's left), y in torso heights
    /// from the neck base (y = 1 at the crotch).
    pub torso: Frame,
    pub head_centre: P2,
    pub head_rx: f32,
    pub head_ry: f32,
    pub head_angle: f32,
    pub neck_radius: f32,
    pub arms: [Limb; 2],
    pub legs: [Limb; 2],
}

/// One arm or leg: three joints (shoulder, elbow, wrist / hip, knee, ankle), radii and the end
/// (hand or foot).
#[derive(Debug, Clone, Copy)]
pub struct Limb {
    pub side: Side,
    pub root: P2,
    pub mid: P2,
    pub end: P2,
    pub upper_radius: f32,
    pub lower_radius: f32,
    /// Tip of the hand or foot.
    pub tip: P2,
    pub tip_radius: f32,
}

impl Limb {
    pub fn upper_frame(&self) -> Frame {
        Frame::limb(self.root, self.mid, self.upper_radius)
    }
    pub fn lower_frame(&self) -> Frame {
        Frame::limb(self.mid, self.end, self.lower_radius)
    }
}

/// Half-width of the torso (in half-shoulder widths) at height y (in torso heights): the
/// silhouette that skin and garments follow.
pub fn torso_half_width(y: f32) -> f32 {
    const PROFILE: [(f32, f32); 7] =
        [(0.0, 0.95), (0.05, 1.0), (0.3, 0.9), (0.62, 0.78), (0.92, 0.9), (1.05, 0.92), (1.4, 0.95)];
    if y <= PROFILE[0].0 {
        return PROFILE[0].1;
    }
    for w in PROFILE.windows(2) {
        let ((y0, x0), (y1, x1)) = (w[0], w[1]);
        if y <= y1 {
            return x0 + (x1 - x0) * (y - y0) / (y1 - y0);
        }
    }
    PROFILE[PROFILE.len() - 1].1
}

/// Shoulder joint and hip joint positions in the torso frame.
pub const SHOULDER_JOINT: (f32, f32) = (0.86, 0.08);
pub const HIP_JOINT: (f32, f32) = (0.46, 0.94);

impl Build {
    pub fn random(rng: &mut Rng, torso_px: f32) -> Build {
        let skin_t = rng.unit();
        let light = [246.0, 214.0, 186.0];
        let dark = [92.0, 58.0, 40.0];
        let skin = std::array::from_fn(|i| (light[i] + (dark[i] - light[i]) * skin_t) as u8);
        let hair = rng.choose(&[[28, 22, 20], [70, 45, 30], [120, 80, 45], [205, 170, 105], [150, 60, 30], [140, 140, 140]]);
        let hair_style =
            rng.choose(&[HairStyle::Short, HairStyle::Long, HairStyle::Bun, HairStyle::Buzz, HairStyle::Hat]);
        Build {
            torso: torso_px,
            shoulder: rng.range(0.46, 0.56),
            upper_arm: rng.range(0.52, 0.6),
            forearm: rng.range(0.46, 0.54),
            arm_radius: rng.range(0.085, 0.105),
            thigh: rng.range(0.8, 0.9),
            shank: rng.range(0.78, 0.88),
            leg_radius: rng.range(0.15, 0.18),
            head: rng.range(0.3, 0.36),
            skin,
            hair_style,
            hair: if hair_style == HairStyle::Hat {
                rng.choose(&[[180, 40, 40], [40, 60, 120], [230, 220, 200], [50, 50, 50]])
            } else {
                hair
            },
            eyes: rng.choose(&[[40, 30, 25], [60, 90, 140], [70, 100, 60]]),
            shoes: rng.choose(&[[30, 30, 30], [240, 240, 240], [120, 70, 40], [160, 30, 30]]),
        }
    }

    /// The skeleton of this build in `pose`.
    pub fn skeleton(&self, pose: &Pose) -> Skeleton {
        let t = self.torso;
        let s = self.shoulder * t;
        let down = down_dir(pose.tilt);
        let across = down.perp().scale(-1.0); // +x of the torso frame: the person's left
        let torso = Frame { origin: pose.neck, ea: across.scale(s), eb: down.scale(t) };

        let head_ry = self.head * t * 0.55;
        let head_rx = head_ry * 0.78;
        let head_up = down_dir(pose.tilt + pose.head_tilt).scale(-1.0);
        let head_centre = pose.neck.add(head_up.scale(0.07 * t + head_ry));

        let mut arms = [self.limb_placeholder(); 2];
        let mut legs = [self.limb_placeholder(); 2];
        for (i, side) in Side::BOTH.into_iter().enumerate() {
            let k = side.sign();
            let body_angle = pose.tilt;
            // An arm lifted outwards turns away from the body's side: -x for the right arm.
            let shoulder = torso.map(k * SHOULDER_JOINT.0, SHOULDER_JOINT.1);
            let upper_dir = down_dir(body_angle + k * pose.shoulder[i]);
            let elbow = shoulder.add(upper_dir.scale(self.upper_arm * t));
            let fore_dir = down_dir(body_angle + k * (pose.shoulder[i] - pose.elbow[i]));
            let wrist = elbow.add(fore_dir.scale(self.forearm * t));
            let ar = self.arm_radius * t;
            arms[i] = Limb {
                side,
                root: shoulder,
                mid: elbow,
                end: wrist,
                upper_radius: ar,
                lower_radius: ar * 0.82,
                tip: wrist.add(fore_dir.scale(0.16 * t)),
                tip_radius: ar * 0.8,
            };

            let hip = torso.map(k * HIP_JOINT.0, HIP_JOINT.1);
            let thigh_dir = down_dir(body_angle + k * pose.hip[i]);
            let knee = hip.add(thigh_dir.scale(self.thigh * t));
            let shank_dir = down_dir(body_angle + k * (pose.hip[i] - pose.knee[i]));
            let ankle = knee.add(shank_dir.scale(self.shank * t));
            let lr = self.leg_radius * t;
            legs[i] = Limb {
                side,
                root: hip,
                mid: knee,
                end: ankle,
                upper_radius: lr,
                lower_radius: lr * 0.7,
                tip: ankle.add(p2(k * 0.16 * t, 0.04 * t)),
                tip_radius: lr * 0.42,
            };
        }
        Skeleton {
            torso,
            head_centre,
            head_rx,
            head_ry,
            // tiny-skia's rotation by r turns straight down into down_dir(-r).
            head_angle: -(pose.tilt + pose.head_tilt),
            neck_radius: 0.3 * s,
            arms,
            legs,
        }
    }

    fn limb_placeholder(&self) -> Limb {
        let z = p2(0.0, 0.0);
        Limb { side: Side::Right, root: z, mid: z, end: z, upper_radius: 1.0, lower_radius: 1.0, tip: z, tip_radius: 1.0 }
    }
}

impl Pose {
    /// A random standing pose for a person whose neck base is at `neck`.
    pub fn random(rng: &mut Rng, neck: P2) -> Pose {
        let deg = |d: f32| d.to_radians();
        Pose {
            neck,
            tilt: deg(rng.range(-6.0, 6.0)),
            head_tilt: deg(rng.range(-8.0, 8.0)),
            shoulder: [deg(rng.range(6.0, 75.0)), deg(rng.range(6.0, 75.0))],
            elbow: [deg(rng.range(-20.0, 70.0)), deg(rng.range(-20.0, 70.0))],
            hip: [deg(rng.range(2.0, 12.0)), deg(rng.range(2.0, 12.0))],
            knee: [deg(rng.range(0.0, 8.0)), deg(rng.range(0.0, 8.0))],
        }
    }

    /// Blend towards `other` by `t` (0 gives self).
    pub fn lerp(&self, other: &Pose, t: f32) -> Pose {
        let l = |a: f32, b: f32| a + (b - a) * t;
        let l2 = |a: [f32; 2], b: [f32; 2]| [l(a[0], b[0]), l(a[1], b[1])];
        Pose {
            neck: self.neck.lerp(other.neck, t),
            tilt: l(self.tilt, other.tilt),
            head_tilt: l(self.head_tilt, other.head_tilt),
            shoulder: l2(self.shoulder, other.shoulder),
            elbow: l2(self.elbow, other.elbow),
            hip: l2(self.hip, other.hip),
            knee: l2(self.knee, other.knee),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_arm_is_on_the_image_left() {
        let mut rng = Rng::new(1);
        let build = Build::random(&mut rng, 100.0);
        let pose = Pose::random(&mut rng, p2(96.0, 50.0));
        let sk = build.skeleton(&pose);
        assert!(sk.arms[0].root.x < 96.0 && sk.arms[1].root.x > 96.0);
        assert!(sk.legs[0].root.x < sk.legs[1].root.x);
        assert!(sk.head_centre.y < 50.0, "head above the neck base");
    }

    #[test]
    fn lifting_the_shoulder_moves_the_elbow_outwards() {
        let mut rng = Rng::new(2);
        let build = Build::random(&mut rng, 100.0);
        let mut pose = Pose::random(&mut rng, p2(96.0, 50.0));
        pose.tilt = 0.0;
        pose.shoulder = [0.1, 0.1];
        let low = build.skeleton(&pose);
        pose.shoulder = [1.0, 1.0];
        let high = build.skeleton(&pose);
        assert!(high.arms[0].mid.x < low.arms[0].mid.x);
        assert!(high.arms[1].mid.x > low.arms[1].mid.x);
    }
}
