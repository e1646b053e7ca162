//! Algorithm 1 of the paper: which loss terms train the student parsing S_P at each epoch.
//!
//! - phase 1, epochs [0, e1): feature loss on `hx6, hx5d` + response loss;
//! - phase 2, epochs [e1, e2): feature loss on all six decoder layers + response loss;
//! - phase 3, epochs [e2, e3): self-study (B's garment transferred back onto B must give B's
//!   own parsing) + response loss.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DistillSchedule {
    /// Phase boundaries in epochs (fractions allowed: a short CPU run sees less than one epoch
    /// of a large synthetic set): phase 1 ends at e1, phase 2 at e2, the run at e3.
    pub e1: f32,
    pub e2: f32,
    pub e3: f32,
    /// Softmax temperature of the response (soft-target) loss.
    pub temperature: f32,
    pub feature_weight: f32,
    pub response_weight: f32,
    pub self_study_weight: f32,
}

impl Default for DistillSchedule {
    /// Boundaries are our choice (the paper gives the phases, not their lengths); weights 1.
    fn default() -> DistillSchedule {
        DistillSchedule { e1: 4.0, e2: 8.0, e3: 12.0, temperature: 2.0, feature_weight: 1.0, response_weight: 1.0, self_study_weight: 1.0 }
    }
}

/// The loss terms active in one epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveTerms {
    pub phase: u8,
    /// How many decoder layers the feature loss matches, coarse first (`hx6, hx5d, ...`); 0: none.
    pub feature_layers: usize,
    pub response: bool,
    pub self_study: bool,
}

impl DistillSchedule {
    pub fn active(&self, epoch: f32) -> ActiveTerms {
        if epoch < self.e1 {
            ActiveTerms { phase: 1, feature_layers: 2, response: true, self_study: false }
        } else if epoch < self.e2 {
            ActiveTerms { phase: 2, feature_layers: 6, response: true, self_study: false }
        } else {
            ActiveTerms { phase: 3, feature_layers: 0, response: true, self_study: true }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_follow_algorithm_1() {
        let s = DistillSchedule { e1: 2.0, e2: 5.0, e3: 7.0, ..DistillSchedule::default() };
        let phases: Vec<u8> = (0..7).map(|e| s.active(e as f32).phase).collect();
        assert_eq!(phases, vec![1, 1, 2, 2, 2, 3, 3]);
        assert_eq!(s.active(0.0), ActiveTerms { phase: 1, feature_layers: 2, response: true, self_study: false });
        assert_eq!(s.active(3.0), ActiveTerms { phase: 2, feature_layers: 6, response: true, self_study: false });
        assert_eq!(s.active(6.0), ActiveTerms { phase: 3, feature_layers: 0, response: true, self_study: true });
        // The response loss runs through every phase.
        assert!((0..7).all(|e| s.active(e as f32).response));
        // Fractional boundaries: a run shorter than an epoch still goes through all three.
        let short = DistillSchedule { e1: 0.1, e2: 0.2, e3: 0.3, ..DistillSchedule::default() };
        assert_eq!([0.05, 0.15, 0.25].map(|e| short.active(e).phase), [1, 2, 3]);
    }
}
