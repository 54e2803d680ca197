//! `alb_connection`: Application Load Balancer connection logs (one line per TLS connection attempt).
//!
//! Space-separated, the certificate subject quoted. The 11 columns AWS documented first must be there:
//! `timestamp client_ip client_port listener_port tls_protocol tls_cipher tls_handshake_latency
//! leaf_client_cert_subject leaf_client_cert_validity leaf_client_cert_serial_number tls_verify_status`;
//! `conn_trace_id` (added later) is optional, and unknown columns after it are ignored. Reference:
//! <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-connection-logs.html>.
//!
//! What comes out, under AWS's names: `timestamp` (RFC 3339 with fraction and `Z`) is the event's
//! `@timestamp` and not repeated as a field; the ports are integers; `tls_handshake_latency` is seconds, a
//! number kept as written. `leaf_client_cert_validity` stays the string AWS writes
//! (`NotBefore=2023-09-21T22:43:21Z;NotAfter=2026-06-17T22:43:21Z`), not split. A `-` (which listeners
//! without mutual TLS write for the certificate columns) leaves its field out, whatever the field's type.

use super::tokens::{parse_rfc3339, push_int, push_num, push_str_unless_dash, SpaceFields};
use super::{ErrorKind, LineOut, ParseError};
use crate::event::Timestamp;

/// Columns up to and including `tls_verify_status` must be there; `conn_trace_id` and later are optional.
const REQUIRED: usize = 11;

/// Parses one ALB connection log line into `out`.
pub fn parse<'a>(line: &'a str, out: &mut LineOut<'a>) -> Result<Timestamp, ParseError> {
    let mut f = SpaceFields::new(line);
    let time = f.required("timestamp", REQUIRED)?;
    let ts = parse_rfc3339(time.text)
        .ok_or_else(|| ParseError::new(ErrorKind::BadTimestamp, "timestamp", time.text))?;
    push_str_unless_dash(out, "client_ip", f.required("client_ip", REQUIRED)?.value());
    for name in ["client_port", "listener_port"] {
        push_int(out, name, f.required(name, REQUIRED)?.text)?;
    }
    for name in ["tls_protocol", "tls_cipher"] {
        push_str_unless_dash(out, name, f.required(name, REQUIRED)?.value());
    }
    let latency = f.required("tls_handshake_latency", REQUIRED)?;
    push_num(out, "tls_handshake_latency", latency.text, false)?;
    for name in [
        "leaf_client_cert_subject",
        "leaf_client_cert_validity",
        "leaf_client_cert_serial_number",
        "tls_verify_status",
    ] {
        push_str_unless_dash(out, name, f.required(name, REQUIRED)?.value());
    }
    if let Some(t) = f.next("conn_trace_id")? {
        push_str_unless_dash(out, "conn_trace_id", t.value());
    }
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::parse_one;
    use super::super::FormatSpec;
    use serde_json::json;

    const LINE: &str = concat!(
        "2024-10-04T17:05:15.514108Z 192.168.131.39 36280 443 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 4.036 ",
        "\"CN=amazondomains.com,O=endEntity,L=Seattle,ST=Washington,C=US\" ",
        "NotBefore=2023-09-21T22:43:21Z;NotAfter=2026-06-17T22:43:21Z FEF257372D5C14D4 Success"
    );

    fn conn(line: &str) -> serde_json::Value {
        parse_one(&FormatSpec::AlbConnection, line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn every_column_has_a_field_and_trailing_columns_are_ignored() {
        let v = conn(&format!("{LINE} TID_ab12 \"a future column\" 7"));
        assert_eq!(
            v,
            json!({
                "@timestamp": "2024-10-04T17:05:15.514108Z",
                "client_ip": "192.168.131.39", "client_port": 36280, "listener_port": 443,
                "tls_protocol": "TLSv1.2", "tls_cipher": "ECDHE-RSA-AES128-GCM-SHA256",
                "tls_handshake_latency": 4.036,
                "leaf_client_cert_subject": "CN=amazondomains.com,O=endEntity,L=Seattle,ST=Washington,C=US",
                "leaf_client_cert_validity": "NotBefore=2023-09-21T22:43:21Z;NotAfter=2026-06-17T22:43:21Z",
                "leaf_client_cert_serial_number": "FEF257372D5C14D4",
                "tls_verify_status": "Success",
                "conn_trace_id": "TID_ab12"
            })
        );
        // The documented example, without conn_trace_id.
        assert!(conn(LINE).get("conn_trace_id").is_none());
    }

    #[test]
    fn dashes_leave_fields_out() {
        let v = conn(
            "2024-10-04T17:05:15Z 2001:db8::1 36280 443 - - - \"-\" - - Failed:ClientCertMissing -",
        );
        let o = v.as_object().unwrap();
        assert_eq!(v["client_ip"], "2001:db8::1");
        assert_eq!(v["tls_verify_status"], "Failed:ClientCertMissing");
        for absent in [
            "tls_protocol",
            "tls_cipher",
            "tls_handshake_latency",
            "leaf_client_cert_subject",
            "leaf_client_cert_validity",
            "leaf_client_cert_serial_number",
            "conn_trace_id",
        ] {
            assert!(!o.contains_key(absent), "{absent} in {v}");
        }
    }

    #[test]
    fn bad_lines_say_which_field() {
        let spec = FormatSpec::AlbConnection;
        let e = parse_one(
            &spec,
            "2024-10-04T17:05:15.514108Z 192.168.131.39 36280 443",
        )
        .unwrap_err();
        assert!(e.to_string().contains("needs at least 11"), "{e}");
        let e = parse_one(&spec, &LINE.replace(" 443 ", " https ")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field listener_port: \"https\" is not an integer"
        );
        let e = parse_one(&spec, &LINE.replace(" 4.036 ", " 4,036 ")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field tls_handshake_latency: \"4,036\" is not a number"
        );
        let e = parse_one(
            &spec,
            &LINE.replace("2024-10-04T17:05:15.514108Z", "2024-10-04"),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "field timestamp: cannot parse time \"2024-10-04\""
        );
    }
}
