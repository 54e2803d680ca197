//! SQS message bodies: any text gives objects, nothing, or a reason it is invalid, never a panic; an
//! object always has a bucket.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s3logsbeat::inputs::notification::{parse, Notification};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    if let Notification::Objects(objects) = parse(body) {
        for o in objects {
            assert!(
                !o.bucket.is_empty() || body.contains("\"name\":\"\""),
                "{body}"
            );
        }
    }
});
