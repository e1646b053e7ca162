//! The element in a `gst_check::Harness`: buffers in, buffers out, timestamps kept, stats.

mod common;

use common::{ParserVerdict, init, models, person_png};

#[test]
fn harness_pushes_frames_through() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let m = models(&tmp.path().join("m"), ParserVerdict::AllGarment);
    let r = person_png(tmp.path(), "r.png", 1);
    // Configured before the harness starts it: start() loads the models and the reference.
    let element = gst::ElementFactory::make("garmenttransfer")
        .property("models", m.to_str().unwrap())
        .property("reference", r.to_str().unwrap())
        .property_from_str("execution-provider", "cpu")
        .build()
        .unwrap();
    let mut h = gst_check::Harness::with_element(&element, Some("sink"), Some("src"));
    h.set_src_caps_str("video/x-raw,format=BGRx,width=80,height=120,framerate=25/1");
    for i in 0..3u64 {
        let mut buffer = gst::Buffer::from_mut_slice(vec![90u8; 80 * 120 * 4]);
        {
            let b = buffer.get_mut().unwrap();
            b.set_pts(gst::ClockTime::from_mseconds(40 * i));
            b.set_duration(gst::ClockTime::from_mseconds(40));
        }
        let out = h.push_and_pull(buffer).expect("a frame comes out for every frame in");
        assert_eq!(out.size(), 80 * 120 * 4);
        assert_eq!(out.pts(), Some(gst::ClockTime::from_mseconds(40 * i)));
        let map = out.map_readable().unwrap();
        assert!(map.iter().any(|&v| v != 90), "frame {i}: the whole-frame garment must change pixels");
    }
    let stats = {
        use gst::prelude::*;
        h.element().unwrap().property::<gst::Structure>("stats")
    };
    assert_eq!(stats.get::<u64>("frames").unwrap(), 3);
}
