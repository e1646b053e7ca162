//! Hostile and unlucky input, in real pipelines: files that are not photos, models folders that
//! point elsewhere, models that lie, inference that fails mid-stream, buffers whose geometry
//! differs from the caps, reference swaps under load. Every case ends with a message naming the
//! culprit, and nothing hangs: each pipeline runs under a time bound.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ParserVerdict, error_of, grey_png, gt, init, launch, models, parsers, person_png, run};
use gst::prelude::*;
use gstgarmenttransfer::manifest::{Manifest, sha256_hex};

const TIMEOUT: Duration = Duration::from_secs(120);

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
}

/// A PNG whose header claims `w` x `h` (only the header: the decoder must refuse before it
/// allocates).
fn png_claiming(path: &Path, w: u32, h: u32) {
    let mut bytes = Vec::new();
    image::RgbImage::new(8, 8).write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
    // IHDR data starts at byte 16: width, height; its CRC covers "IHDR" and the 13 data bytes.
    bytes[16..20].copy_from_slice(&w.to_be_bytes());
    bytes[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(path, bytes).unwrap();
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 3) as u8, (y * 2) as u8, 90]));
    let mut bytes = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Jpeg).unwrap();
    bytes
}

#[test]
fn references_that_are_not_photos() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let m = models(&tmp.path().join("m"), ParserVerdict::AllGarment);
    let at = |name: &str| tmp.path().join(name);
    let check = |path: &Path, expected: &[&str]| {
        let e = error_of(&gt(&m, path));
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(e.contains(name) && expected.iter().all(|x| e.contains(x)), "expected {name} and {expected:?} in: {e}");
    };

    mkfifo(&at("fifo.jpg"));
    check(&at("fifo.jpg"), &["FIFO", "expected a regular file"]);
    std::os::unix::fs::symlink("/dev/zero", at("zero.jpg")).unwrap();
    check(&at("zero.jpg"), &["character device"]);
    std::fs::create_dir(at("folder.png")).unwrap();
    check(&at("folder.png"), &["folder"]);
    // 65 MiB, sparse: refused by its size before a byte is read.
    std::fs::File::create(at("huge-file.png")).unwrap().set_len(65 << 20).unwrap();
    check(&at("huge-file.png"), &["byte limit"]);
    png_claiming(&at("huge-picture.png"), 22000, 22000);
    check(&at("huge-picture.png"), &["limit"]);
    grey_png(tmp.path(), "dot.png", 1, 1);
    check(&at("dot.png"), &["1x1", "smaller than the 64x64 minimum"]);
    grey_png(tmp.path(), "strip.png", 64, 300);
    check(&at("strip.png"), &["64x300", "strip"]);
    let full = jpeg(128, 128);
    std::fs::write(at("truncated.jpg"), &full[..full.len() * 6 / 10]).unwrap();
    check(&at("truncated.jpg"), &["truncated"]);
    std::fs::write(at("animation.gif"), b"GIF89a\x40\x00\x40\x00\x00\x00\x00;").unwrap();
    check(&at("animation.gif"), &["Gif", "expected PNG or JPEG"]);
}

/// A JPEG with an EXIF block saying "rotate 90 degrees clockwise to display" (orientation 6).
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_orientation_is_applied() {
    let upright = gstgarmenttransfer::reference::decode_image(&jpeg(160, 96), Path::new("plain.jpg")).unwrap();
    assert_eq!((upright.width, upright.height), (160, 96));
    let turned = gstgarmenttransfer::reference::decode_image(&with_exif_orientation(&jpeg(160, 96), 6), Path::new("turned.jpg")).unwrap();
    assert_eq!((turned.width, turned.height), (96, 160), "orientation 6 turns a landscape file into a portrait photo");
    // The pixel at the stored top-left lands at the displayed top-right.
    let stored = image::load_from_memory(&jpeg(160, 96)).unwrap().into_rgb8();
    let tl = stored.get_pixel(0, 0).0;
    let tr = &turned.data[(turned.width - 1) * 3..turned.width * 3];
    assert!(tl.iter().zip(tr).all(|(a, b)| (*a as i32 - *b as i32).abs() < 12), "{tl:?} vs {tr:?}");
}

/// Rewrite one manifest entry's file name.
fn point_manifest(dir: &Path, model: &str, file: &str) {
    let mut manifest = Manifest::read(dir).unwrap();
    manifest.models.get_mut(model).unwrap().file = file.into();
    let text = serde_json::to_string_pretty(&manifest).unwrap();
    std::fs::write(dir.join("manifest.json"), text).unwrap();
}

#[test]
fn models_folders_that_point_elsewhere() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let r = person_png(tmp.path(), "reference.png", 1);
    let passwd_sha = sha256_hex(&std::fs::read("/etc/passwd").unwrap_or_default());
    for (i, file) in ["../../../../etc/passwd", "/etc/hostname", "sub/parser.onnx", ".."].into_iter().enumerate() {
        let m = models(&tmp.path().join(format!("escape{i}")), ParserVerdict::AllGarment);
        point_manifest(&m, "parser", file);
        let e = error_of(&gt(&m, &r));
        assert!(e.contains("manifest.json") && e.contains("not a plain file name"), "{file}: {e}");
        assert!(!e.contains(&passwd_sha) && !e.contains("root:"), "{file}: the error tells about a file outside the folder: {e}");
    }

    // A link inside the folder to the real file elsewhere.
    let m = models(&tmp.path().join("link"), ParserVerdict::AllGarment);
    let outside = tmp.path().join("warp-outside.onnx");
    std::fs::rename(m.join("warp.onnx"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, m.join("warp.onnx")).unwrap();
    let e = error_of(&gt(&m, &r));
    assert!(e.contains("warp.onnx") && e.contains("symbolic link"), "{e}");

    let m = models(&tmp.path().join("fifo"), ParserVerdict::AllGarment);
    std::fs::remove_file(m.join("regrowth.onnx")).unwrap();
    mkfifo(&m.join("regrowth.onnx"));
    let e = error_of(&gt(&m, &r));
    assert!(e.contains("regrowth.onnx") && e.contains("FIFO"), "{e}");

    // Larger than the cap: refused by its size (sparse file, nothing hashed).
    let m = models(&tmp.path().join("huge"), ParserVerdict::AllGarment);
    std::fs::OpenOptions::new().write(true).open(m.join("densepose.onnx")).unwrap().set_len((1 << 30) + 1).unwrap();
    let e = error_of(&gt(&m, &r));
    assert!(e.contains("densepose.onnx") && e.contains("byte limit"), "{e}");

    // An upper-case checksum is the same checksum.
    let m = models(&tmp.path().join("upper"), ParserVerdict::AllGarment);
    let mut manifest = Manifest::read(&m).unwrap();
    for entry in manifest.models.values_mut() {
        entry.sha256 = entry.sha256.to_uppercase();
    }
    manifest.write(&m).unwrap();
    let pipeline = launch(&format!("videotestsrc num-buffers=2 ! video/x-raw,width=128,height=96 ! videoconvert ! {} ! fakesink", gt(&m, &r)));
    let ended = run(&pipeline, TIMEOUT);
    assert!(ended.eos && ended.errors.is_empty(), "{:?}", ended.errors);
}

#[test]
fn models_that_lie_are_refused_at_start() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let r = grey_png(tmp.path(), "grey.png", 96, 128);
    let (h, w) = (common::H as i64, common::W as i64);
    for (name, bytes, expected) in [
        ("shape", parsers::lying_about_its_shape(h, w), vec!["parser.onnx", "parsing_logits", "[1, 7, 128, 32]"]),
        ("fp16", parsers::float16_output(h, w), vec!["parser.onnx", "parsing_logits", "Float16", "expected float32"]),
        ("batch", parsers::batch_of_two(h, w), vec!["parser.onnx", "'image'", "[2, 3, 64, 64]"]),
        // What a replayed CUDA graph that leaves its outputs unwritten looks like: the run
        // through the bound tensors differs from the plain one.
        ("noise", parsers::different_every_run(h, w), vec!["parser.onnx", "through its bound tensors", "away from a plain run"]),
    ] {
        let m = models(&tmp.path().join(name), ParserVerdict::AllGarment);
        parsers::install(&m, &bytes);
        let e = error_of(&gt(&m, &r));
        assert!(expected.iter().all(|x| e.contains(x)), "{name}: expected {expected:?} in: {e}");
    }
}

/// Push `frames` (RGB, 128x96) through `element`; the frames that come out, and how it ended.
fn push_frames(element: &str, frames: &[Vec<u8>]) -> (common::Ended, Vec<Vec<u8>>) {
    let pipeline = launch(&format!("appsrc name=src format=time ! {element} ! appsink name=sink sync=false"));
    let src = pipeline.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
    let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    // On an error, read `stats` from the thread that posts it: the element must not hold a lock
    // that reading takes while it posts.
    if let Some(gt) = pipeline.by_name("gt") {
        pipeline.bus().unwrap().set_sync_handler(move |_, msg| {
            if let gst::MessageView::Error(_) = msg.view() {
                let _ = gt.property::<gst::Structure>("stats");
            }
            gst::BusSyncReply::Pass
        });
    }
    src.set_caps(Some(&gst::Caps::builder("video/x-raw").field("format", "RGB").field("width", 128).field("height", 96).field("framerate", gst::Fraction::new(10, 1)).build()));
    let out = Arc::new(Mutex::new(Vec::new()));
    let o = out.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let map = sample.buffer().unwrap().map_readable().unwrap();
                o.lock().unwrap().push(map.as_slice().to_vec());
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    for (i, f) in frames.iter().enumerate() {
        let mut b = gst::Buffer::from_mut_slice(f.clone());
        b.get_mut().unwrap().set_pts(gst::ClockTime::from_mseconds(100 * i as u64));
        src.push_buffer(b).unwrap();
    }
    src.end_of_stream().unwrap();
    let ended = run(&pipeline, TIMEOUT);
    let frames = out.lock().unwrap().clone();
    (ended, frames)
}

#[test]
fn a_frame_whose_inference_fails_passes_through_and_a_run_of_them_is_an_error() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let m = models(&tmp.path().join("m"), ParserVerdict::AllGarment);
    parsers::install(&m, &parsers::failing_on_bright_frames(common::H as i64, common::W as i64));
    let r = grey_png(tmp.path(), "grey.png", 96, 128);
    let dark = vec![10u8; 128 * 96 * 3];
    let bright = vec![250u8; 128 * 96 * 3];
    let frames = vec![dark.clone(), bright.clone(), dark.clone(), bright.clone(), bright.clone(), dark.clone()];
    for in_flight in [1, 2] {
        let element = format!("{} name=gt max-consecutive-failures=3 frames-in-flight={in_flight}", gt(&m, &r));
        let (ended, out) = push_frames(&element, &frames);
        assert!(ended.eos && ended.errors.is_empty(), "{in_flight} in flight: {:?}", ended.errors);
        assert_eq!(out.len(), 6, "{in_flight} in flight: every frame comes out");
        for i in [1, 3, 4] {
            assert_eq!(out[i], bright, "{in_flight} in flight: failed frame {i} passes through unchanged");
        }
        for i in [0, 2, 5] {
            assert_ne!(out[i], dark, "{in_flight} in flight: frame {i} is dressed");
        }
        assert!(ended.warnings.iter().any(|w| w.contains("parser.onnx") && w.contains("passed through unchanged")), "{:?}", ended.warnings);

        let (ended, _) = push_frames(&element, &vec![bright.clone(); 6]);
        let e = ended.errors.join("\n");
        assert!(!ended.eos && e.contains("3 frames in a row failed") && e.contains("parser.onnx"), "{in_flight} in flight: {e}");
    }
}

/// `n` frames of a person walking (synthetic world seed `seed`), in the 128x96 RGB frames
/// push_frames sends.
fn walking(seed: u64, n: usize) -> Vec<Vec<u8>> {
    let world = garment_training::synth::World::new(128, 96, seed).unwrap();
    let seq = world.sequence(n);
    let own = world.tailor(&seq.person.upper).unwrap();
    seq.poses.iter().map(|p| world.draw_posed(&seq.person, p, &own).unwrap().rgb).collect()
}

#[test]
fn two_frames_in_flight_give_the_frames_of_one_in_order() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let r = person_png(tmp.path(), "reference.png", 3);
    let frames = walking(5, 8);
    let (one_ended, one) = push_frames(&format!("{} name=gt", gt(&shipped, &r)), &frames);
    let (two_ended, two) = push_frames(&format!("{} name=gt frames-in-flight=2", gt(&shipped, &r)), &frames);
    assert!(one_ended.eos && two_ended.eos, "{:?} {:?}", one_ended.errors, two_ended.errors);
    assert_eq!((one.len(), two.len()), (frames.len(), frames.len()), "every frame comes out");
    let dressed = one.iter().zip(&frames).filter(|(o, f)| o != f).count();
    assert!(dressed >= frames.len() / 2, "the person is dressed in most frames: {dressed} of {}", frames.len());
    for (i, (a, b)) in one.iter().zip(&two).enumerate() {
        let differ = a.iter().zip(b).filter(|(x, y)| x != y).count();
        assert_eq!(differ, 0, "frame {i}: {differ} bytes differ between one and two frames in flight");
    }
}

/// The composite as a graph on the models' device (here the CPU's ONNX Runtime) writes the
/// bytes the host's composite writes, frame after frame of a person walking.
#[test]
fn the_composite_on_the_device_gives_the_frames_of_the_host() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let r = person_png(tmp.path(), "reference.png", 3);
    let frames = walking(6, 6);
    let (host_ended, host) = push_frames(&format!("{} name=gt composite=host", gt(&shipped, &r)), &frames);
    let (device_ended, device) = push_frames(&format!("{} name=gt composite=device", gt(&shipped, &r)), &frames);
    assert!(host_ended.eos && device_ended.eos, "{:?} {:?}", host_ended.errors, device_ended.errors);
    assert_eq!((host.len(), device.len()), (frames.len(), frames.len()), "every frame comes out");
    let dressed = host.iter().zip(&frames).filter(|(o, f)| o != f).count();
    assert!(dressed >= frames.len() / 2, "the person is dressed in most frames: {dressed} of {}", frames.len());
    for (i, (a, b)) in host.iter().zip(&device).enumerate() {
        let differ = a.iter().zip(b).filter(|(x, y)| x != y).count();
        assert_eq!(differ, 0, "frame {i}: {differ} bytes differ between the host's composite and the device's");
    }
}

#[test]
fn buffers_whose_video_meta_differs_from_the_caps() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let m = models(&tmp.path().join("m"), ParserVerdict::AllGarment);
    let r = person_png(tmp.path(), "reference.png", 1);
    let plate = grey_png(tmp.path(), "plate.png", 128, 96);
    let push = |height: u32, stride: i32, size: usize| {
        let pipeline = launch(&format!("appsrc name=src format=time ! {} background={} ! fakesink", gt(&m, &r), plate.display()));
        let src = pipeline.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
        src.set_caps(Some(&gst::Caps::builder("video/x-raw").field("format", "RGBx").field("width", 128).field("height", 96).field("framerate", gst::Fraction::new(10, 1)).build()));
        let mut b = gst::Buffer::from_mut_slice(vec![90u8; size]);
        gst_video::VideoMeta::add_full(b.get_mut().unwrap(), gst_video::VideoFrameFlags::empty(), gst_video::VideoFormat::Rgbx, 128, height, &[0], &[stride]).unwrap();
        b.get_mut().unwrap().set_pts(gst::ClockTime::ZERO);
        let _ = src.push_buffer(b);
        let _ = src.end_of_stream();
        run(&pipeline, TIMEOUT)
    };
    // Taller than the caps (and than the plate, which is sized from them): processed.
    let ended = push(120, 512, 512 * 120);
    assert!(ended.eos && ended.errors.is_empty(), "{:?}", ended.errors);
    // Rows shorter than a row of pixels: an error naming it.
    let ended = push(96, 100, 512 * 96);
    let e = ended.errors.join("\n");
    assert!(!ended.eos && e.contains("stride") && e.contains("100"), "{e}");
}

/// The plugin file, as `cargo build` writes it next to this test's executable (`cargo test`
/// builds the library for linking only, so build the plugin once if it is not there).
fn plugin_file() -> PathBuf {
    static BUILT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _once = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let so = dir.join("libgstgarmenttransfer.so");
    if !so.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut child = std::process::Command::new(cargo)
            .args(["build", "--lib", "-p", "gst-garment-transfer"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(900);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("building the plugin took more than 900 s");
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert!(status.success() && so.is_file(), "cargo build --lib did not write {}", so.display());
    }
    so
}

/// Run `gst-launch-1.0 ARGS` with the plugin from `plugin_dir`, at most `limit`; its exit
/// status (None: killed at the limit) and what it printed.
fn gst_launch(plugin_dir: &Path, args: &str, env: &[(&str, &str)], limit: Duration) -> (Option<i32>, String) {
    let registry = plugin_dir.join("registry.bin");
    if !registry.exists() {
        // A new registry scans every installed plugin first, which on a loaded machine can take
        // longer than the bound below is meant for: scan once, unbounded, before timing.
        let _ = std::process::Command::new("gst-inspect-1.0")
            .arg("garmenttransfer")
            .env("GST_PLUGIN_PATH", plugin_dir)
            .env("GST_REGISTRY", &registry)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
    let mut cmd = std::process::Command::new("gst-launch-1.0");
    cmd.args(args.split_whitespace())
        .env("GST_PLUGIN_PATH", plugin_dir)
        .env("GST_REGISTRY", &registry)
        .env_remove("ORT_DYLIB_PATH")
        .env_remove("LD_LIBRARY_PATH")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("gst-launch-1.0 runs (scripts/setup.sh installs it)");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut text = String::new();
    use std::io::Read;
    let _ = child.stdout.take().unwrap().read_to_string(&mut text);
    let _ = child.stderr.take().unwrap().read_to_string(&mut text);
    (status, text)
}

#[test]
fn gst_launch_exits_on_every_error() {
    let tmp = tempfile::tempdir().unwrap();
    let plugins = tmp.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(plugin_file(), plugins.join("libgstgarmenttransfer.so")).unwrap();
    init();
    let m = models(&tmp.path().join("m"), ParserVerdict::AllGarment);
    let r = person_png(tmp.path(), "reference.png", 1);
    mkfifo(&tmp.path().join("fifo.png"));
    let ort = gstgarmenttransfer::install::source_tree().join(".onnxruntime/current/libonnxruntime.so");
    let env = [("ORT_DYLIB_PATH", ort.to_str().unwrap())];
    for (caps, reference, expected) in [
        ("width=64,height=63", r.clone(), "64x63"),
        ("width=128,height=96", tmp.path().join("fifo.png"), "FIFO"),
    ] {
        let args = format!(
            "videotestsrc num-buffers=3 ! video/x-raw,{caps} ! videoconvert ! garmenttransfer models={} reference={} execution-provider=cpu ! fakesink",
            m.display(),
            reference.display()
        );
        // gst-launch-1.0 1.22 quits its main loop from a bus sync handler on an error; an error
        // posted before that loop runs (the caps error comes from the streaming thread as soon
        // as the source starts, and a loaded machine may not have reached the loop by then) is
        // lost and it waits forever, with the error printed. That race is gst-launch's: such a
        // run is tried again, and at least one of three must exit.
        let mut runs = Vec::new();
        for _ in 0..3 {
            let (status, text) = gst_launch(&plugins, &args, &env, Duration::from_secs(30));
            assert!(text.contains(expected), "{status:?}\n{text}");
            runs.push((status, text));
            if status.is_some() {
                break;
            }
        }
        let (status, text) = runs.last().unwrap();
        assert!(status.is_some(), "gst-launch-1.0 {args} did not exit within 30 s, three times:\n{text}");
        assert!(*status != Some(0), "{status:?}\n{text}");
    }
}

#[test]
fn an_installed_plugin_looks_beside_itself_never_in_the_build_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let plugins = tmp.path().join("plugins");
    let beside = plugins.join("garmenttransfer");
    std::fs::create_dir_all(&beside).unwrap();
    std::fs::copy(plugin_file(), plugins.join("libgstgarmenttransfer.so")).unwrap();
    init();
    // The default models folder of an installed plugin: garmenttransfer/models beside it.
    models(&beside.join("models"), ParserVerdict::AllGarment);
    let r = person_png(tmp.path(), "reference.png", 1);
    let args = format!("videotestsrc num-buffers=2 ! video/x-raw,width=128,height=96 ! videoconvert ! garmenttransfer reference={} execution-provider=cpu ! fakesink", r.display());
    let tree = gstgarmenttransfer::install::source_tree().to_string_lossy().into_owned();
    let xdg = [("XDG_DATA_HOME", tmp.path().to_str().unwrap()), ("XDG_DATA_DIRS", tmp.path().to_str().unwrap())];

    // No library anywhere it looks: the error lists where, and the build folder is not one.
    let (status, text) = gst_launch(&plugins, &args, &xdg, Duration::from_secs(60));
    assert!(status.is_some_and(|s| s != 0), "{text}");
    assert!(text.contains(&beside.join("libonnxruntime.so").display().to_string()), "{text}");
    assert!(!text.contains(&tree), "an installed plugin looked in the build folder {tree}:\n{text}");

    // The library beside the plugin, and a wrong ORT_DYLIB_PATH: a warning, then it runs.
    let ort_dir = gstgarmenttransfer::install::source_tree().join(".onnxruntime/current");
    for entry in std::fs::read_dir(&ort_dir).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with("libonnxruntime") {
            std::fs::copy(entry.path(), beside.join(entry.file_name())).unwrap();
        }
    }
    let env = [xdg[0], xdg[1], ("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")];
    let (status, text) = gst_launch(&plugins, &args, &env, Duration::from_secs(60));
    assert_eq!(status, Some(0), "{text}");
    assert!(text.contains("ORT_DYLIB_PATH=/nonexistent/libonnxruntime.so was not usable"), "{text}");
}

#[test]
fn cuda_failures_fall_back_under_auto() {
    if Path::new("/dev/nvidia0").exists() {
        eprintln!("a GPU is present: the no-driver fallback is not checked here");
        return;
    }
    init();
    let tmp = tempfile::tempdir().unwrap();
    let m = models(&tmp.path().join("m"), ParserVerdict::AllGarment);
    let r = person_png(tmp.path(), "reference.png", 1);
    // Without CUDA graphs (the default) and with: the same fallback.
    for (graphs, want) in [("", false), ("cuda-graph=true", true)] {
        let pipeline = launch(&format!(
            "videotestsrc num-buffers=2 ! video/x-raw,width=128,height=96 ! videoconvert ! garmenttransfer name=gt models={} reference={} execution-provider=auto device-id=7 {graphs} ! fakesink",
            m.display(),
            r.display()
        ));
        let gt = pipeline.by_name("gt").unwrap();
        assert_eq!(gt.property::<bool>("cuda-graph"), want);
        let ended = run(&pipeline, TIMEOUT);
        assert!(ended.eos, "{graphs}: {:?}", ended.errors);
        assert!(ended.warnings.iter().any(|w| w.contains("CUDA is not available") && w.contains("device 7")), "{graphs}: {:?}", ended.warnings);
        assert!(!ended.warnings.iter().any(|w| w.contains("without a CUDA graph")), "{graphs}: {:?}", ended.warnings);
        let stats = gt.property::<gst::Structure>("stats");
        assert_eq!(stats.get::<String>("execution-provider").unwrap(), "CPU");
    }
}

/// Reference swaps while PLAYING: a storm of them, a FIFO, an empty value, a retry.
#[test]
fn reference_swaps_under_load() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let m = models(&tmp.path().join("m"), ParserVerdict::AllGarment);
    let a = person_png(tmp.path(), "a.png", 1);
    let b = person_png(tmp.path(), "b.png", 2);
    let last = person_png(tmp.path(), "last.png", 3);
    let pipeline = launch(&format!(
        "videotestsrc is-live=true ! video/x-raw,width=128,height=96,framerate=30/1 ! videoconvert ! {} name=gt ! fakesink sync=true",
        gt(&m, &a)
    ));
    let gt = pipeline.by_name("gt").unwrap();
    // Messages as they are posted; on an error, read `stats` from the posting thread: the
    // element must not hold a lock that reading takes.
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let (s, g) = (seen.clone(), gt.clone());
    pipeline.bus().unwrap().set_sync_handler(move |_, msg| {
        let text = match msg.view() {
            gst::MessageView::Warning(w) => format!("warning: {}", w.error()),
            gst::MessageView::Error(e) => {
                let _ = g.property::<gst::Structure>("stats");
                format!("error: {}", e.error())
            }
            _ => return gst::BusSyncReply::Pass,
        };
        s.lock().unwrap().push(text);
        gst::BusSyncReply::Pass
    });
    let stats = |g: &gst::Element| g.property::<gst::Structure>("stats");
    let active = |g: &gst::Element| stats(g).get::<String>("reference").unwrap();
    let frames = |g: &gst::Element| stats(g).get::<u64>("frames").unwrap();
    let wait_for = |what: &str, cond: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}; messages: {:?}", seen.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    pipeline.set_state(gst::State::Playing).unwrap();
    wait_for("frames", &|| frames(&gt) > 2);
    let (_, threads_before, _) = common::process_usage();

    // 200 sets in a tight loop: the last one wins, the stream keeps flowing, threads stay few.
    let mut most_threads = threads_before;
    for i in 0..200 {
        gt.set_property("reference", if i % 2 == 0 { a.to_str().unwrap() } else { b.to_str().unwrap() });
        most_threads = most_threads.max(common::process_usage().1);
    }
    gt.set_property("reference", last.to_str().unwrap());
    wait_for("the last reference to be active", &|| active(&gt) == last.to_str().unwrap());
    assert!(most_threads <= threads_before + 2, "{most_threads} threads during the swaps, {threads_before} before");
    let before = frames(&gt);
    wait_for("frames after the swaps", &|| frames(&gt) > before + 3);

    // Reading stats never waits for a frame.
    let start = Instant::now();
    for _ in 0..100 {
        stats(&gt);
    }
    assert!(start.elapsed() < Duration::from_secs(30), "100 reads of stats took {:?}", start.elapsed());

    // A FIFO: a warning naming it, the old photo stays, frames keep flowing.
    let fifo = tmp.path().join("fifo.png");
    mkfifo(&fifo);
    gt.set_property("reference", fifo.to_str().unwrap());
    wait_for("the FIFO warning", &|| seen.lock().unwrap().iter().any(|m| m.contains("fifo.png") && m.contains("FIFO")));
    assert_eq!(active(&gt), last.to_str().unwrap());
    let before = frames(&gt);
    wait_for("frames after the FIFO", &|| frames(&gt) > before + 3);

    // Emptying it while running is refused, and the property keeps its value.
    gt.set_property("reference", "");
    assert_eq!(gt.property::<Option<String>>("reference").as_deref(), Some(fifo.to_str().unwrap()));
    wait_for("the warning about emptying", &|| seen.lock().unwrap().iter().any(|m| m.contains("cannot be emptied")));

    // A missing file, then the same path again once it exists: retried and applied.
    let later = tmp.path().join("later.png");
    gt.set_property("reference", later.to_str().unwrap());
    wait_for("the missing-file warning", &|| seen.lock().unwrap().iter().any(|m| m.contains("later.png")));
    std::fs::copy(&b, &later).unwrap();
    gt.set_property("reference", later.to_str().unwrap());
    wait_for("the retried reference", &|| active(&gt) == later.to_str().unwrap());

    // Stopping does not wait for anything the worker does.
    let stop = Instant::now();
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(stop.elapsed() < Duration::from_secs(30));
    assert!(seen.lock().unwrap().iter().all(|m| !m.starts_with("error")), "{:?}", seen.lock().unwrap());
}
