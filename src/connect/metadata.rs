//! Field metadata that travels with a column from one backend to another: the type the column
//! had at its source, and what follows from it for every target (a MySQL `BIT(n)`'s width).
//! Shared here so that no backend folder reads another's.

use arrow::datatypes::{DataType, Field};

/// Field metadata key holding the type a column had at its source, as that database prints it
/// (`numeric(12,2)`, `varchar(20)`, `bit(12)`). Kept so later stages, error messages and table
/// creation on the way back can see the original type.
pub const SOURCE_TYPE: &str = "flow.source_type";

/// The number of bits (1 to 64) of a MySQL `BIT(n)` column as recorded in a field's
/// [`SOURCE_TYPE`] metadata (`bit(12)` → 12), whichever reader or transform carried it; `None`
/// for any other column. Such a column is Arrow `Boolean` (n = 1) or `UInt64`.
pub fn bit_length(field: &Field) -> Option<u32> {
    let source = field.metadata().get(SOURCE_TYPE)?;
    let bits: u32 = source.strip_prefix("bit(")?.strip_suffix(')')?.parse().ok()?;
    matches!(field.data_type(), DataType::Boolean | DataType::UInt64).then_some(bits).filter(|b| (1..=64).contains(b))
}
