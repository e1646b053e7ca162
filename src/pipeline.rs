//! Two frames in flight: the chain's front half (parser, dense pose, S_P) runs on one thread
//! while its back half (warp, regrowth, composite) finishes the frame before on another. For
//! recorded video on the CPU, where throughput matters more than latency: each frame still
//! takes as long, but a new one starts about every `max(front, back)` instead of every
//! `front + back`, and every frame comes out one frame later.
//!
//! Frames go through both halves in order, so the tracker and the smoothing see them as the
//! one-thread chain does and the output is the same.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use crate::chain::{Back, Chain, Front, Halfway, Outcome, OutputMode, Stats};
use crate::frame::{FrameMut, GeometryError, RgbImage};
use crate::models::ModelError;
use crate::reference::Reference;

/// Pixels a frame owns while in flight (a mapped GStreamer buffer, a plain vector).
pub trait Pixels: Send + 'static {
    fn view(&mut self) -> Result<FrameMut<'_>, GeometryError>;
}

/// One frame and what to do with it.
pub struct Job<P> {
    pub pixels: P,
    pub reference: Arc<Reference>,
    pub background: Option<Arc<RgbImage>>,
    pub mode: OutputMode,
    pub follow: bool,
    pub temporal: bool,
}

/// A frame out of the chain: its pixels written (or left as they were when it failed), and the
/// stats of both halves after it.
pub struct Done<P> {
    pub pixels: P,
    pub result: Result<Outcome, ModelError>,
    pub stats: Stats,
}

enum ToFront<P> {
    Frame(Job<P>),
    Reset,
}

enum ToBack<P> {
    Frame(Job<P>, Result<Halfway, ModelError>, Stats),
    Reset,
}

pub struct Pipelined<P: Pixels> {
    to_front: Option<Sender<ToFront<P>>>,
    done: Receiver<Done<P>>,
    in_flight: usize,
    front: Option<JoinHandle<Front>>,
    back: Option<JoinHandle<Back>>,
}

impl<P: Pixels> Pipelined<P> {
    /// Start the two threads with the halves of `chain`.
    pub fn new(chain: Chain) -> std::io::Result<Pipelined<P>> {
        let Chain { mut front, mut back } = chain;
        let (to_front, front_rx) = channel::<ToFront<P>>();
        let (to_back, back_rx) = channel::<ToBack<P>>();
        let (done_tx, done) = channel::<Done<P>>();
        let front = std::thread::Builder::new().name("garmenttransfer-front".into()).spawn(move || {
            for msg in front_rx {
                let out = match msg {
                    ToFront::Reset => {
                        front.reset();
                        ToBack::Reset
                    }
                    ToFront::Frame(mut job) => {
                        front.follow = job.follow;
                        front.temporal = job.temporal;
                        let (reference, mode) = (job.reference.clone(), job.mode);
                        let halfway = job.pixels.view().map_err(ModelError::from).and_then(|f| front.run(&f, &reference, mode));
                        ToBack::Frame(job, halfway, front.stats.clone())
                    }
                };
                if to_back.send(out).is_err() {
                    break;
                }
            }
            front
        })?;
        let back = std::thread::Builder::new().name("garmenttransfer-back".into()).spawn(move || {
            for msg in back_rx {
                let (mut job, halfway, front_stats) = match msg {
                    ToBack::Reset => {
                        back.reset();
                        continue;
                    }
                    ToBack::Frame(job, halfway, stats) => (job, halfway, stats),
                };
                let (reference, background, mode) = (job.reference.clone(), job.background.clone(), job.mode);
                let result = halfway.and_then(|h| {
                    let mut frame = job.pixels.view()?;
                    back.run(h, &mut frame, &reference, background.as_deref(), mode)
                });
                let stats = front_stats.merged(&back.stats);
                if done_tx.send(Done { pixels: job.pixels, result, stats }).is_err() {
                    break;
                }
            }
            back
        })?;
        Ok(Pipelined { to_front: Some(to_front), done, in_flight: 0, front: Some(front), back: Some(back) })
    }

    /// Frames submitted and not yet taken out.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    pub fn submit(&mut self, job: Job<P>) {
        if let Some(tx) = &self.to_front
            && tx.send(ToFront::Frame(job)).is_ok()
        {
            self.in_flight += 1;
        }
    }

    /// The oldest frame in flight, when it is done (waits for it); `None` when none is in
    /// flight.
    pub fn oldest(&mut self) -> Option<Done<P>> {
        if self.in_flight == 0 {
            return None;
        }
        let done = self.done.recv().ok()?;
        self.in_flight -= 1;
        Some(done)
    }

    /// Forget the person and the past frames, after the frames in flight.
    pub fn reset(&mut self) {
        if let Some(tx) = &self.to_front {
            let _ = tx.send(ToFront::Reset);
        }
    }

    /// Stop the threads (after the frames in flight, which are dropped) and give the halves back.
    pub fn into_chain(mut self) -> Option<Chain> {
        self.to_front = None;
        while self.oldest().is_some() {}
        let front = self.front.take()?.join().ok()?;
        let back = self.back.take()?.join().ok()?;
        Some(Chain { front, back })
    }
}

impl<P: Pixels> Drop for Pipelined<P> {
    fn drop(&mut self) {
        // Closing the channel ends the front thread, which ends the back thread.
        self.to_front = None;
        if let Some(h) = self.front.take() {
            let _ = h.join();
        }
        if let Some(h) = self.back.take() {
            let _ = h.join();
        }
    }
}

/// A frame in a plain vector of packed pixels.
pub struct OwnedFrame {
    pub data: Vec<u8>,
    pub width: usize,
    pub height: usize,
    pub stride: usize,
    pub format: crate::frame::PixelFormat,
}

impl Pixels for OwnedFrame {
    fn view(&mut self) -> Result<FrameMut<'_>, GeometryError> {
        FrameMut::new(&mut self.data, self.width, self.height, self.stride as isize, self.format)
    }
}
