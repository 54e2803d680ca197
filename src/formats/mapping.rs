//! How the index template maps a field: the [`FieldType`] a format's descriptor gives each of its fields
//! (and its ECS mapping each of the fields it makes), which `outputs::elasticsearch::template` turns
//! into an Elasticsearch mapping. What must stay true: a type accepts every value the parser writes for
//! the field (`tests/component/template.rs` checks every sample).

/// A field's mapping type in the index template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// Exact strings (ids, names, URLs, enumerations).
    Keyword,
    /// Free text (a raw line, an error message, a user agent).
    Text,
    /// IPv4 or IPv6 address.
    Ip,
    /// Whole numbers (codes, ports, bytes, counts).
    Long,
    /// Seconds with a fraction.
    Double,
    /// A time (ISO 8601, as Elasticsearch's `strict_date_optional_time` reads it).
    Date,
    /// A boolean.
    Boolean,
    /// An object of any shape, indexed as keyword leaves under one field (CloudTrail's
    /// `requestParameters`: thousands of API shapes that would otherwise explode the mapping and
    /// conflict with one another).
    Flattened,
}
