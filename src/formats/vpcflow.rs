//! `vpcflow`: VPC and Transit Gateway flow logs delivered to S3 as text.
//!
//! Space-separated, `-` for a value that does not apply. Each S3 text file starts with a header line
//! naming its columns (`version account-id interface-id …`): a custom format can choose any subset of the
//! fields in any order, so the columns are taken from the header; an object without one is read with the
//! default version-2 layout (14 columns). Objects that were concatenated repeat the header mid-object,
//! and each header replaces the layout for the lines after it. References:
//! <https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html>,
//! <https://docs.aws.amazon.com/vpc/latest/tgw/tgw-flow-logs.html>.
//!
//! A line is a header when every token looks like a field name (lowercase letters, digits and `-`,
//! starting with a letter: AWS's names are all lowercase, and no data line is, since it has a number, an
//! address, an uppercase action or status, or a `-`) and at least one token is a field AWS documents.
//!
//! What comes out: each column under AWS's name in snake_case (`pkt-srcaddr` → `pkt_srcaddr`); the
//! documented numeric columns (`version`, ports, `protocol`, `packets`, `bytes`, `start`, `end`,
//! `tcp-flags`, `traffic-path`, TGW's `packets-lost-*`) as integers, every other column as a string,
//! including columns AWS adds later (named from the header, snake_case). `@timestamp` is `start` (epoch
//! seconds), or `end` when the layout has no `start`; a layout with neither (AWS lets a custom format
//! leave both out) dates its lines by the object's time, given by the reader: the time in its file name,
//! else its LastModified; without either, its lines fail saying why. A `-` leaves its field out, so NODATA and SKIPDATA rows carry only what they have. A line
//! with fewer columns than its header is not a flow log record and fails; columns beyond the header's
//! are ignored.

use std::borrow::Cow;

use serde_json::{Map, Value as J};

use super::descriptor::{Descriptor, Framing, ObjectLines};
use super::ecs::{
    epoch_seconds, network_type, number_as_text, put, str_at, transport, Conversion, Ecs, Rest,
};
use super::mapping::FieldType;
use super::tokens::parse_i64;
use super::{ErrorKind, FormatOptions, FormatSpec, LineKind, LineOut, LogFormat, ParseError};
use crate::fields::{Name, Timestamp, Value};

use FieldType::{Date, Ip, Keyword, Long};

/// `vpcflow`.
pub const FORMAT: Descriptor = Descriptor {
    format: LogFormat::Vpcflow,
    name: "vpcflow",
    doc: "VPC flow logs (versions 2 to 8, header-named columns; Transit Gateway flow logs)",
    options: &[],
    required: &[],
    build,
    framing: Framing::Lines,
    compressed_twice: false,
    parser,
    direct: None,
    fields: FIELDS,
    ecs: Some(&ECS),
    recognises: Some(recognises),
    not_a_log: None,
};

fn build(
    _: &FormatOptions,
    _: &dyn Fn(&str) -> String,
) -> Result<FormatSpec, (&'static str, String)> {
    Ok(FormatSpec::Vpcflow)
}

fn parser(_: &FormatSpec) -> Box<dyn ObjectLines<'_> + '_> {
    Box::new(Columns::default_v2())
}

/// `AWSLogs/<account>/vpcflowlogs/`, or Hive-style `aws-service=vpcflowlogs/`.
fn recognises(_bucket: &str, key: &str) -> bool {
    key.contains("/vpcflowlogs/")
        || key.starts_with("vpcflowlogs/")
        || key.contains("aws-service=vpcflowlogs/")
}

impl<'s> ObjectLines<'s> for Columns {
    fn parse<'a>(&mut self, unit: &'a str, out: &mut LineOut<'a>) -> LineKind
    where
        's: 'a,
    {
        if self.header(unit) {
            return LineKind::Header;
        }
        let start = out.len();
        let r = parse(self, unit, out);
        out.finish(start, 0..unit.len(), r);
        LineKind::Data
    }

    fn set_object_time(&mut self, t: Option<Timestamp>) {
        self.undated = t;
    }
}

/// The default format, version 2, as its header names it.
pub const DEFAULT_V2: [&str; 14] = [
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
];

/// Every field AWS documents for VPC (versions 2 to 8) and Transit Gateway flow logs: the header's name,
/// the field's name, and whether its value is an integer.
const KNOWN: &[(&str, &str, bool)] = &[
    // Version 2 (the default format).
    ("version", "version", true),
    ("account-id", "account_id", false),
    ("interface-id", "interface_id", false),
    ("srcaddr", "srcaddr", false),
    ("dstaddr", "dstaddr", false),
    ("srcport", "srcport", true),
    ("dstport", "dstport", true),
    ("protocol", "protocol", true),
    ("packets", "packets", true),
    ("bytes", "bytes", true),
    ("start", "start", true),
    ("end", "end", true),
    ("action", "action", false),
    ("log-status", "log_status", false),
    // Version 3.
    ("vpc-id", "vpc_id", false),
    ("subnet-id", "subnet_id", false),
    ("instance-id", "instance_id", false),
    ("tcp-flags", "tcp_flags", true),
    ("type", "type", false),
    ("pkt-srcaddr", "pkt_srcaddr", false),
    ("pkt-dstaddr", "pkt_dstaddr", false),
    // Version 4.
    ("region", "region", false),
    ("az-id", "az_id", false),
    ("sublocation-type", "sublocation_type", false),
    ("sublocation-id", "sublocation_id", false),
    // Version 5.
    ("pkt-src-aws-service", "pkt_src_aws_service", false),
    ("pkt-dst-aws-service", "pkt_dst_aws_service", false),
    ("flow-direction", "flow_direction", false),
    ("traffic-path", "traffic_path", true),
    // Version 7.
    ("ecs-cluster-arn", "ecs_cluster_arn", false),
    ("ecs-cluster-name", "ecs_cluster_name", false),
    (
        "ecs-container-instance-arn",
        "ecs_container_instance_arn",
        false,
    ),
    (
        "ecs-container-instance-id",
        "ecs_container_instance_id",
        false,
    ),
    ("ecs-container-id", "ecs_container_id", false),
    ("ecs-second-container-id", "ecs_second_container_id", false),
    ("ecs-service-name", "ecs_service_name", false),
    ("ecs-task-definition-arn", "ecs_task_definition_arn", false),
    ("ecs-task-arn", "ecs_task_arn", false),
    ("ecs-task-id", "ecs_task_id", false),
    // Version 8.
    ("reject-reason", "reject_reason", false),
    // Transit Gateway flow logs.
    ("resource-type", "resource_type", false),
    ("tgw-id", "tgw_id", false),
    ("tgw-attachment-id", "tgw_attachment_id", false),
    ("tgw-src-vpc-account-id", "tgw_src_vpc_account_id", false),
    ("tgw-dst-vpc-account-id", "tgw_dst_vpc_account_id", false),
    ("tgw-src-vpc-id", "tgw_src_vpc_id", false),
    ("tgw-dst-vpc-id", "tgw_dst_vpc_id", false),
    ("tgw-src-subnet-id", "tgw_src_subnet_id", false),
    ("tgw-dst-subnet-id", "tgw_dst_subnet_id", false),
    ("tgw-src-eni", "tgw_src_eni", false),
    ("tgw-dst-eni", "tgw_dst_eni", false),
    ("tgw-src-az-id", "tgw_src_az_id", false),
    ("tgw-dst-az-id", "tgw_dst_az_id", false),
    ("tgw-pair-attachment-id", "tgw_pair_attachment_id", false),
    ("packets-lost-no-route", "packets_lost_no_route", true),
    ("packets-lost-blackhole", "packets_lost_blackhole", true),
    (
        "packets-lost-mtu-exceeded",
        "packets_lost_mtu_exceeded",
        true,
    ),
    ("packets-lost-ttl-expired", "packets_lost_ttl_expired", true),
];

/// One column of a layout.
#[derive(Clone, Debug)]
struct Column {
    /// The field name: static for a documented field, owned for one named by the data.
    name: Name<'static>,
    /// The value is an integer.
    int: bool,
}

/// The columns of an object: from its (latest) header line, else the default version-2 layout.
#[derive(Clone, Debug)]
pub struct Columns {
    cols: Vec<Column>,
    /// Index of `start`, which dates a line.
    start: Option<usize>,
    /// Index of `end`, which dates a line whose layout has no `start`.
    end: Option<usize>,
    /// The time of lines whose layout has neither `start` nor `end` (AWS lets a custom format leave
    /// both out): the object's time, when it is known (see the module doc).
    pub undated: Option<Timestamp>,
}

impl Default for Columns {
    fn default() -> Columns {
        Columns::default_v2()
    }
}

impl Columns {
    /// The default version-2 layout.
    pub fn default_v2() -> Columns {
        Columns::from_names(DEFAULT_V2.iter().copied())
    }

    fn from_names<'n>(names: impl Iterator<Item = &'n str>) -> Columns {
        let mut cols: Vec<Column> = names.map(column).collect();
        // A header can name a column twice, or name one as a field s3logsbeat writes itself (`log`,
        // `tags`): such a column is renamed (`_log`, `srcaddr_2`) so that a document never has a key twice.
        // Decided once per header, so lines pay nothing for it.
        let mut seen: Vec<String> = Vec::with_capacity(cols.len());
        for c in cols.iter_mut() {
            super::line::header_name(&mut c.name, &mut seen);
        }
        // Only a column still named `start` (not a renamed repeat) dates the line.
        let find = |n: &str| {
            cols.iter()
                .position(|c| matches!(c.name, Cow::Borrowed(s) if s == n))
        };
        let (start, end) = (find("start"), find("end"));
        Columns {
            cols,
            start,
            end,
            undated: None,
        }
    }

    /// Takes `line` as the header if it is one (see the module doc), replacing the layout.
    pub fn header(&mut self, line: &str) -> bool {
        if !line.as_bytes().first().is_some_and(u8::is_ascii_lowercase) {
            return false;
        }
        let mut tokens = line.split_ascii_whitespace();
        if !tokens.clone().all(is_field_name) || !tokens.any(|t| known(t).is_some()) {
            return false;
        }
        let undated = self.undated;
        *self = Columns::from_names(line.split_ascii_whitespace());
        self.undated = undated;
        true
    }
}

/// Lowercase letters, digits and `-`, starting with a letter.
fn is_field_name(t: &str) -> bool {
    let b = t.as_bytes();
    b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// The documented field a header name stands for: (field name, integer?).
fn known(header: &str) -> Option<(&'static str, bool)> {
    KNOWN
        .iter()
        .find(|(h, _, _)| *h == header)
        .map(|(_, f, int)| (*f, *int))
}

fn column(header: &str) -> Column {
    match known(header) {
        Some((name, int)) => Column {
            name: Cow::Borrowed(name),
            int,
        },
        // A field AWS added after this was written: named as the others are, a string.
        None => Column {
            name: Cow::Owned(header.replace('-', "_").to_ascii_lowercase()),
            int: false,
        },
    }
}

/// Parses one data line into `out`.
pub fn parse<'a>(
    cols: &Columns,
    line: &'a str,
    out: &mut LineOut<'a>,
) -> Result<Timestamp, ParseError> {
    let mut start = None;
    let mut end = None;
    let mut found = 0;
    for (i, v) in line.split_ascii_whitespace().enumerate() {
        let Some(col) = cols.cols.get(i) else {
            // Columns beyond the header's: ignored.
            break;
        };
        found = i + 1;
        if Some(i) == cols.start {
            start = Some(v);
        } else if Some(i) == cols.end {
            end = Some(v);
        }
        if v == "-" {
            continue;
        }
        let value = if col.int {
            let n = parse_i64(v)
                .ok_or_else(|| ParseError::new(ErrorKind::BadInteger, col.name.clone(), v))?;
            Value::Int(n)
        } else {
            Value::Str(Cow::Borrowed(v))
        };
        out.push_named(col.name.clone(), value);
    }
    if found < cols.cols.len() {
        return Err(ParseError::new(
            ErrorKind::TooFewFields {
                required: cols.cols.len(),
                found,
            },
            "",
            line,
        ));
    }
    let (name, secs) = match (start, end) {
        (Some(s), _) if s != "-" => ("start", s),
        (_, Some(e)) if e != "-" => ("end", e),
        (None, None) if cols.undated.is_some() => {
            return Ok(cols.undated.expect("checked"));
        }
        _ => {
            return Err(ParseError::new(
                ErrorKind::MissingTimestamp,
                "start or end",
                line,
            ))
        }
    };
    // The integer itself was checked above; this checks that it is a time a document can carry.
    parse_i64(secs)
        .and_then(|s| s.checked_mul(1000))
        .and_then(Timestamp::from_epoch_millis)
        .ok_or_else(|| ParseError::new(ErrorKind::TimestampOutOfRange, name, secs))
}

/// VPC and Transit Gateway flow log fields (the documented ones; columns AWS adds later are strings,
/// mapped as `keyword` by the dynamic template).
const FIELDS: &[(&str, FieldType)] = &[
    ("version", Long),
    ("account_id", Keyword),
    ("interface_id", Keyword),
    ("srcaddr", Ip),
    ("dstaddr", Ip),
    ("srcport", Long),
    ("dstport", Long),
    ("protocol", Long),
    ("packets", Long),
    ("bytes", Long),
    ("start", Long),
    ("end", Long),
    ("action", Keyword),
    ("log_status", Keyword),
    ("vpc_id", Keyword),
    ("subnet_id", Keyword),
    ("instance_id", Keyword),
    ("tcp_flags", Long),
    ("type", Keyword),
    ("pkt_srcaddr", Ip),
    ("pkt_dstaddr", Ip),
    ("region", Keyword),
    ("az_id", Keyword),
    ("sublocation_type", Keyword),
    ("sublocation_id", Keyword),
    ("pkt_src_aws_service", Keyword),
    ("pkt_dst_aws_service", Keyword),
    ("flow_direction", Keyword),
    ("traffic_path", Long),
    ("ecs_cluster_arn", Keyword),
    ("ecs_cluster_name", Keyword),
    ("ecs_container_instance_arn", Keyword),
    ("ecs_container_instance_id", Keyword),
    ("ecs_container_id", Keyword),
    ("ecs_second_container_id", Keyword),
    ("ecs_service_name", Keyword),
    ("ecs_task_definition_arn", Keyword),
    ("ecs_task_arn", Keyword),
    ("ecs_task_id", Keyword),
    ("reject_reason", Keyword),
    ("resource_type", Keyword),
    ("tgw_id", Keyword),
    ("tgw_attachment_id", Keyword),
    ("tgw_src_vpc_account_id", Keyword),
    ("tgw_dst_vpc_account_id", Keyword),
    ("tgw_src_vpc_id", Keyword),
    ("tgw_dst_vpc_id", Keyword),
    ("tgw_src_subnet_id", Keyword),
    ("tgw_dst_subnet_id", Keyword),
    ("tgw_src_eni", Keyword),
    ("tgw_dst_eni", Keyword),
    ("tgw_src_az_id", Keyword),
    ("tgw_dst_az_id", Keyword),
    ("tgw_pair_attachment_id", Keyword),
    ("packets_lost_no_route", Long),
    ("packets_lost_blackhole", Long),
    ("packets_lost_ttl_expired", Long),
];

/// VPC and Transit Gateway flow logs, as Elastic's `vpcflow` pipeline writes them; every other column
/// (TGW's, the ECS task ids, `log_status`, a column AWS adds later) goes under `aws.vpcflow.` as named.
const ECS_NAMES: &[(&str, &str)] = &[
    ("account_id", "aws.vpcflow.account_id"),
    ("account_id", "cloud.account.id"),
    ("srcaddr", "source.ip"),
    ("dstaddr", "destination.ip"),
    ("srcport", "source.port"),
    ("dstport", "destination.port"),
    ("protocol", "network.iana_number"),
    ("packets", "source.packets"),
    ("packets", "network.packets"),
    ("bytes", "source.bytes"),
    ("bytes", "network.bytes"),
    ("start", "event.start"),
    ("end", "event.end"),
    ("action", "aws.vpcflow.action"),
    ("action", "event.action"),
    ("instance_id", "aws.vpcflow.instance_id"),
    ("instance_id", "cloud.instance.id"),
    ("region", "cloud.region"),
    ("az_id", "cloud.availability_zone"),
    ("sublocation_type", "aws.vpcflow.sublocation.type"),
    ("sublocation_id", "aws.vpcflow.sublocation.id"),
    ("pkt_src_aws_service", "aws.vpcflow.pkt_src_service"),
    ("pkt_dst_aws_service", "aws.vpcflow.pkt_dst_service"),
    ("flow_direction", "network.direction"),
    ("ecs_cluster_arn", "orchestrator.cluster.id"),
    ("ecs_cluster_name", "orchestrator.cluster.name"),
    ("ecs_container_instance_arn", "orchestrator.resource.name"),
    ("ecs_container_instance_id", "orchestrator.resource.id"),
    ("ecs_service_name", "service.name"),
    ("reject_reason", "event.reason"),
];

const ECS: Ecs = Ecs {
    dataset: "aws.vpcflow",
    table: ECS_NAMES,
    rest: Rest::Under("aws.vpcflow."),
    category: Some("network"),
    conversions: CONVERSIONS,
    derive: Some(derive),
    derived: &[
        ("event.outcome", Keyword),
        ("event.type", Keyword),
        ("network.transport", Keyword),
        ("network.type", Keyword),
    ],
};

/// Epoch seconds as dates (a value outside the years 0000 to 9999 stays a number, beside); the
/// protocol number as a keyword, as ECS keeps it.
const CONVERSIONS: &[Conversion] = &[
    Conversion {
        name: "event.start",
        into: &[("event.start", Date), ("aws.vpcflow.start", Long)],
        convert: |v| match v.as_i64().and_then(epoch_seconds) {
            Some(date) => vec![("event.start", J::String(date))],
            None => vec![("aws.vpcflow.start", v)],
        },
    },
    Conversion {
        name: "event.end",
        into: &[("event.end", Date), ("aws.vpcflow.end", Long)],
        convert: |v| match v.as_i64().and_then(epoch_seconds) {
            Some(date) => vec![("event.end", J::String(date))],
            None => vec![("aws.vpcflow.end", v)],
        },
    },
    Conversion {
        name: "network.iana_number",
        into: &[("network.iana_number", Keyword)],
        convert: |v| vec![("network.iana_number", number_as_text(v))],
    },
];

/// The outcome and type from the action, the transport from the protocol number, the address family.
fn derive(out: &mut Map<String, J>) {
    let action = str_at(out, "aws.vpcflow.action");
    let (outcome, kind) = match action.as_deref() {
        Some("ACCEPT") => (Some("success"), Some("allowed")),
        Some("REJECT") => (Some("failure"), Some("denied")),
        _ => (None, None),
    };
    if let Some(o) = outcome {
        put(out, "event.outcome", J::from(o));
    }
    let types: Vec<&str> = std::iter::once("connection").chain(kind).collect();
    put(out, "event.type", J::from(types));
    if let Some(t) = str_at(out, "network.iana_number").and_then(|n| transport(&n)) {
        put(out, "network.transport", J::from(t));
    }
    network_type(out);
}

#[cfg(test)]
mod tests {
    use super::super::FormatSpec;
    use serde_json::json;

    fn parse_lines(lines: &[&str]) -> Vec<Result<serde_json::Value, String>> {
        super::super::test_util::parse_lines(&FormatSpec::Vpcflow, lines)
    }

    fn one(lines: &[&str]) -> serde_json::Value {
        let mut r = parse_lines(lines);
        assert_eq!(r.len(), 1, "{lines:?}");
        r.remove(0).unwrap_or_else(|e| panic!("{lines:?}: {e}"))
    }

    #[test]
    fn default_version_2_without_a_header() {
        let v = one(&["2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK extra columns"]);
        assert_eq!(
            v,
            json!({
                "@timestamp": "2014-12-14T04:06:50.000Z",
                "version": 2, "account_id": "123456789010", "interface_id": "eni-1235b8ca123456789",
                "srcaddr": "172.31.16.139", "dstaddr": "172.31.16.21", "srcport": 20641, "dstport": 22,
                "protocol": 6, "packets": 20, "bytes": 4249, "start": 1418530010, "end": 1418530070,
                "action": "ACCEPT", "log_status": "OK"
            })
        );
    }

    #[test]
    fn nodata_rows_keep_what_they_have() {
        let v = one(&[
            "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
        ]);
        assert_eq!(
            v,
            json!({
                "@timestamp": "2015-05-10T18:01:16.000Z",
                "version": 2, "account_id": "123456789010", "interface_id": "eni-1235b8ca123456789",
                "start": 1431280876, "end": 1431280934, "log_status": "NODATA"
            })
        );
    }

    #[test]
    fn a_custom_header_names_the_columns() {
        // custom-format-1 of the AWS docs (the data line has a double space, as the doc has).
        let v = one(&[
            "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status",
            "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 10.0.0.62 52.213.180.42 5001 43638  10.0.0.62 52.213.180.42 6 967 14 1566933133 1566933193 ACCEPT 19 OK",
        ]);
        assert_eq!(v["@timestamp"], "2019-08-27T19:12:13.000Z");
        assert_eq!(v["vpc_id"], "vpc-abcdefab012345678");
        assert_eq!(v["instance_id"], "i-01234567890123456");
        assert_eq!(v["type"], "IPv4");
        assert_eq!(v["pkt_dstaddr"], "52.213.180.42");
        assert_eq!(v["tcp_flags"], 19);
        assert_eq!(v["bytes"], 967);
        assert_eq!(v["dstport"], 43638);
        assert_eq!(v.as_object().unwrap().len(), 22);
        // custom-format-4: version 5 fields, in another order.
        let v = one(&[
            "version srcaddr dstaddr srcport dstport protocol start end type packets bytes account-id vpc-id subnet-id instance-id interface-id region az-id sublocation-type sublocation-id action tcp-flags pkt-srcaddr pkt-dstaddr pkt-src-aws-service pkt-dst-aws-service traffic-path flow-direction log-status",
            "5 10.0.0.71 52.95.128.179 34210 80 6 1616729292 1616729349 IPv4 7 471 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 3 10.0.0.71 52.95.128.179 - S3 8 egress OK",
        ]);
        assert_eq!(v["region"], "ap-southeast-2");
        assert_eq!(v["az_id"], "apse2-az3");
        assert_eq!(v["pkt_dst_aws_service"], "S3");
        assert_eq!(v["traffic_path"], 8);
        assert_eq!(v["flow_direction"], "egress");
        assert!(v.get("sublocation_type").is_none());
        assert!(v.get("pkt_src_aws_service").is_none());
    }

    #[test]
    fn a_header_repeated_mid_object_replaces_the_layout() {
        let r = parse_lines(&[
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status",
            "2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 2 6 3 4 1418530010 1418530070 ACCEPT OK",
            "end start action new-field ecs-task-id",
            "1418530070 1418530011 REJECT something-new -",
        ]);
        assert_eq!(r.len(), 2);
        let v = r[1].as_ref().unwrap();
        assert_eq!(
            v,
            &json!({
                "@timestamp": "2014-12-14T04:06:51.000Z",
                "end": 1418530070, "start": 1418530011, "action": "REJECT",
                "new_field": "something-new"
            })
        );
    }

    #[test]
    fn transit_gateway_fields() {
        let header = "version resource-type account-id tgw-id tgw-attachment-id tgw-src-vpc-account-id tgw-dst-vpc-account-id tgw-src-vpc-id tgw-dst-vpc-id tgw-src-subnet-id tgw-dst-subnet-id tgw-src-eni tgw-dst-eni tgw-src-az-id tgw-dst-az-id tgw-pair-attachment-id srcaddr dstaddr srcport dstport protocol packets bytes start end log-status type packets-lost-no-route packets-lost-blackhole packets-lost-mtu-exceeded packets-lost-ttl-expired tcp-flags region flow-direction pkt-src-aws-service pkt-dst-aws-service";
        assert_eq!(header.split(' ').count(), 36);
        let v = one(&[
            header,
            "6 TransitGateway 123456789012 tgw-0123 tgw-attach-0456 123456789012 210987654321 vpc-0a1 vpc-0b2 subnet-0c3 subnet-0d4 eni-0e5 eni-0f6 use1-az1 use1-az2 tgw-attach-0789 10.0.1.5 10.1.2.6 49152 443 6 10 4000 1660000000 1660000060 OK IPv4 0 1 0 2 27 us-east-1 ingress - -",
        ]);
        assert_eq!(v["@timestamp"], "2022-08-08T23:06:40.000Z");
        assert_eq!(v["resource_type"], "TransitGateway");
        assert_eq!(v["tgw_pair_attachment_id"], "tgw-attach-0789");
        assert_eq!(v["tgw_dst_vpc_account_id"], "210987654321");
        assert_eq!(v["packets_lost_no_route"], 0);
        assert_eq!(v["packets_lost_blackhole"], 1);
        assert_eq!(v["packets_lost_ttl_expired"], 2);
        assert_eq!(v["tcp_flags"], 27);
        // 36 columns, two of them `-`, and `@timestamp`.
        assert_eq!(v.as_object().unwrap().len(), 35);
    }

    #[test]
    fn data_lines_are_not_headers() {
        // Lines of custom formats that start with a lowercase id are data.
        let r = parse_lines(&[
            "instance-id interface-id srcaddr start",
            "i-0123 eni-1235b8ca123456789 10.0.1.5 1418530010",
            "- eni-1235b8ca123456789 10.0.1.5 1418530010",
            "interface-id action start",
            "eni-1235b8ca123456789 accept 1418530010",
        ]);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].as_ref().unwrap()["instance_id"], "i-0123");
        assert!(r[1].as_ref().unwrap().get("instance_id").is_none());
        assert_eq!(r[2].as_ref().unwrap()["action"], "accept");
    }

    #[test]
    fn reserved_and_repeated_names_are_renamed() {
        let v = one(&[
            "start log tags srcaddr srcaddr",
            "1418530010 a b 10.0.0.1 10.0.0.2",
        ]);
        assert_eq!(v["_log"], "a");
        assert_eq!(v["_tags"], "b");
        assert_eq!(v["srcaddr"], "10.0.0.1");
        assert_eq!(v["srcaddr_2"], "10.0.0.2");
    }

    #[test]
    fn bad_lines_say_why() {
        let err = |lines: &[&str]| parse_lines(lines).pop().unwrap().unwrap_err();
        assert_eq!(
            err(&["2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 2 6 3 4 1418530010 1418530070 ACCEPT"]),
            "line has 13 fields, the format needs at least 14"
        );
        assert_eq!(
            err(&["2 123456789010 eni-1 10.0.0.1 10.0.0.2 http 2 6 3 4 1418530010 1418530070 ACCEPT OK"]),
            "field srcport: \"http\" is not an integer"
        );
        assert_eq!(
            err(&[
                "2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 2 6 3 4 yesterday 1418530070 ACCEPT OK"
            ]),
            "field start: \"yesterday\" is not an integer"
        );
        assert_eq!(
            err(&["instance-id interface-id srcaddr", "i-1 eni-1 10.0.0.1"]),
            "timestamp field start or end is missing"
        );
        assert_eq!(
            err(&["start action", "- ACCEPT"]),
            "timestamp field start or end is missing"
        );
        assert_eq!(
            err(&["end action", "99999999999999999 ACCEPT"]),
            "field end: time \"99999999999999999\" is outside the years 0000 to 9999"
        );
        // Without `start`, `end` dates the line.
        let v = one(&["end action", "1418530070 ACCEPT"]);
        assert_eq!(v["@timestamp"], "2014-12-14T04:07:50.000Z");
    }

    #[test]
    fn auto_recognises_the_keys_aws_writes_it_under() {
        super::super::route::tests::assert_recognised(
            super::super::LogFormat::Vpcflow,
            &[
            ("b", "AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/01/01/123456789012_vpcflowlogs_us-east-1_fl-1234_20240101T0000Z_hash.log.gz"),
            ("b", "AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2024/month=01/day=01/x.log.gz"),
            ],
        );
    }
}
