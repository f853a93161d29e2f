//! Zero-copy hand-over of record batches from arrow 56 (what connectorx 0.4.6 is built on) to
//! arrow 59 (what DataFusion 55 and the rest of Flow use).
//!
//! The two arrow versions are distinct crates with distinct Rust types, so a batch cannot simply be
//! passed along. Both, however, implement the [Arrow C Data Interface], whose `ArrowArray` and
//! `ArrowSchema` structs have one fixed `#[repr(C)]` layout. A batch is exported by arrow 56 as a
//! struct array through that interface and imported by arrow 59: no value buffer is copied, and the
//! buffers stay owned by arrow 56's allocation until the last arrow 59 array referencing them is
//! dropped, at which point arrow 59 calls the producer's `release` callback exactly once.
//!
//! [Arrow C Data Interface]: https://arrow.apache.org/docs/format/CDataInterface.html

use arrow::array::{Array, AsArray, RecordBatch, RecordBatchOptions, make_array};
use arrow::datatypes::Schema;
use datafusion::error::{DataFusionError, Result};
use std::sync::Arc;

/// Moves an arrow 56 [`RecordBatch`](arrow56::record_batch::RecordBatch) into arrow 59 without
/// copying its buffers.
///
/// Column names, types, nullability, field metadata and schema metadata are kept, and so is the
/// row count (also for batches without columns).
pub fn batch_from_arrow56(batch: arrow56::record_batch::RecordBatch) -> Result<RecordBatch> {
    let num_rows = batch.num_rows();
    // Schema-level metadata has no place in a struct array's C schema, so it travels separately.
    let schema_metadata = batch.schema_ref().metadata().clone();

    let struct_data = arrow56::array::Array::into_data(arrow56::array::StructArray::from(batch));
    let (array56, schema56) = arrow56::ffi::to_ffi(&struct_data)
        .map_err(|e| bridge_error(format!("exporting the arrow 56 batch failed: {e}")))?;
    // The exported structs own (through their private data) references to every buffer, so the
    // original arrow 56 handles can go now.
    drop(struct_data);

    // SAFETY: `FFI_ArrowArray` and `FFI_ArrowSchema` are, in both arrow 56 and arrow 59, `#[repr(C)]`
    // definitions of the C Data Interface's `struct ArrowArray` / `struct ArrowSchema` with the same
    // fields in the same order, so they have the same size (checked by `transmute` at compile time)
    // and layout. `transmute` moves the owned values: the arrow 56 values are not dropped, so their
    // `Drop` (which calls `release`) never runs, and the arrow 59 values become the sole owners.
    // Arrow 59 then calls each `release` callback exactly once — for the schema when `schema59`
    // drops at the end of this function, for the array when the last imported buffer drops — so
    // there is neither a double free nor a leak. The callbacks point into arrow 56's code, which is
    // linked into this binary and lives as long as the process.
    let (array59, schema59) = unsafe {
        (
            std::mem::transmute::<arrow56::ffi::FFI_ArrowArray, arrow::ffi::FFI_ArrowArray>(array56),
            std::mem::transmute::<arrow56::ffi::FFI_ArrowSchema, arrow::ffi::FFI_ArrowSchema>(schema56),
        )
    };

    // SAFETY: the pair was produced a moment ago by arrow 56's exporter, which follows the C Data
    // Interface, and has not been released or modified since.
    let data = unsafe { arrow::ffi::from_ffi(array59, &schema59) }
        .map_err(|e| bridge_error(format!("importing the batch into arrow 59 failed: {e}")))?;

    let imported = make_array(data);
    let Some(struct_array) = imported.as_struct_opt() else {
        return Err(bridge_error(format!(
            "expected a struct array from the C Data Interface, got {}",
            imported.data_type()
        )));
    };
    if struct_array.null_count() > 0 {
        // A batch exported as a struct has no struct-level nulls; anything else is a bug upstream.
        return Err(bridge_error("the imported struct array has top-level nulls".to_string()));
    }
    let (fields, columns, _nulls) = struct_array.clone().into_parts();
    let schema = Arc::new(Schema::new_with_metadata(fields, schema_metadata));
    // An explicit row count keeps zero-column batches intact; `try_new_with_options` re-checks that
    // the columns fit the schema instead of trusting the import blindly.
    RecordBatch::try_new_with_options(schema, columns, &RecordBatchOptions::new().with_row_count(Some(num_rows)))
        .map_err(|e| bridge_error(format!("rebuilding the arrow 59 batch failed: {e}")))
}

fn bridge_error(message: String) -> DataFusionError {
    DataFusionError::Execution(format!("arrow 56 → 59 bridge: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        ArrayRef, BinaryArray, BooleanArray, Date32Array, Date64Array, Decimal128Array, Decimal256Array, Float32Array,
        Float64Array, Int8Array, Int16Array, Int32Array, Int64Array, LargeBinaryArray, LargeStringArray, StringArray,
        Time64MicrosecondArray, Time64NanosecondArray, TimestampMicrosecondArray, TimestampNanosecondArray, UInt8Array,
        UInt16Array, UInt32Array, UInt64Array,
    };
    use arrow::datatypes::{DataType, Field, TimeUnit, i256};
    use arrow56::array as a56;
    use arrow56::datatypes as d56;
    use std::collections::HashMap;

    /// One column under test: the arrow 56 input and the arrow 59 array it must turn into.
    struct Case {
        name: &'static str,
        input: a56::ArrayRef,
        expected: ArrayRef,
    }

    fn case(name: &'static str, input: impl a56::Array + 'static, expected: impl Array + 'static) -> Case {
        Case { name, input: Arc::new(input), expected: Arc::new(expected) }
    }

    /// Every type connectorx's arrow destination produces for MySQL and SQLite (and a few close
    /// relatives), each with a NULL and the edge values of its domain.
    fn cases() -> Vec<Case> {
        let text_10k = "ü🦀x".repeat(2_000);
        vec![
            case(
                "i8",
                a56::Int8Array::from(vec![Some(i8::MIN), None, Some(0), Some(i8::MAX)]),
                Int8Array::from(vec![Some(i8::MIN), None, Some(0), Some(i8::MAX)]),
            ),
            case(
                "i16",
                a56::Int16Array::from(vec![Some(i16::MIN), None, Some(-1), Some(i16::MAX)]),
                Int16Array::from(vec![Some(i16::MIN), None, Some(-1), Some(i16::MAX)]),
            ),
            case(
                "i32",
                a56::Int32Array::from(vec![Some(i32::MIN), None, Some(7), Some(i32::MAX)]),
                Int32Array::from(vec![Some(i32::MIN), None, Some(7), Some(i32::MAX)]),
            ),
            case(
                "i64",
                a56::Int64Array::from(vec![Some(i64::MIN), None, Some(42), Some(i64::MAX)]),
                Int64Array::from(vec![Some(i64::MIN), None, Some(42), Some(i64::MAX)]),
            ),
            case(
                "u8",
                a56::UInt8Array::from(vec![Some(0), None, Some(1), Some(u8::MAX)]),
                UInt8Array::from(vec![Some(0), None, Some(1), Some(u8::MAX)]),
            ),
            case(
                "u16",
                a56::UInt16Array::from(vec![Some(0), None, Some(1), Some(u16::MAX)]),
                UInt16Array::from(vec![Some(0), None, Some(1), Some(u16::MAX)]),
            ),
            case(
                "u32",
                a56::UInt32Array::from(vec![Some(0), None, Some(1), Some(u32::MAX)]),
                UInt32Array::from(vec![Some(0), None, Some(1), Some(u32::MAX)]),
            ),
            case(
                "u64",
                a56::UInt64Array::from(vec![Some(0), None, Some(1), Some(u64::MAX)]),
                UInt64Array::from(vec![Some(0), None, Some(1), Some(u64::MAX)]),
            ),
            case(
                "bool",
                a56::BooleanArray::from(vec![Some(true), None, Some(false), Some(true)]),
                BooleanArray::from(vec![Some(true), None, Some(false), Some(true)]),
            ),
            case(
                "f32",
                a56::Float32Array::from(vec![Some(f32::NAN), None, Some(f32::INFINITY), Some(f32::NEG_INFINITY)]),
                Float32Array::from(vec![Some(f32::NAN), None, Some(f32::INFINITY), Some(f32::NEG_INFINITY)]),
            ),
            case(
                "f64",
                a56::Float64Array::from(vec![Some(f64::NAN), None, Some(-0.0), Some(f64::MIN_POSITIVE)]),
                Float64Array::from(vec![Some(f64::NAN), None, Some(-0.0), Some(f64::MIN_POSITIVE)]),
            ),
            case(
                // connectorx's default decimal type
                "decimal_38_10",
                a56::Decimal128Array::from(vec![
                    Some(-99_999_999_999_999_999_999_999_999_999_999_999_999_i128),
                    None,
                    Some(12_345_000_000_000),
                    Some(99_999_999_999_999_999_999_999_999_999_999_999_999_i128),
                ])
                .with_precision_and_scale(38, 10)
                .expect("valid decimal type"),
                Decimal128Array::from(vec![
                    Some(-99_999_999_999_999_999_999_999_999_999_999_999_999_i128),
                    None,
                    Some(12_345_000_000_000),
                    Some(99_999_999_999_999_999_999_999_999_999_999_999_999_i128),
                ])
                .with_precision_and_scale(38, 10)
                .expect("valid decimal type"),
            ),
            case(
                "decimal_12_2",
                a56::Decimal128Array::from(vec![Some(-123), None, Some(99_999_999_999)])
                    .with_precision_and_scale(12, 2)
                    .expect("valid decimal type"),
                Decimal128Array::from(vec![Some(-123), None, Some(99_999_999_999)])
                    .with_precision_and_scale(12, 2)
                    .expect("valid decimal type"),
            ),
            case(
                "decimal256_65_30",
                a56::Decimal256Array::from(vec![
                    Some(arrow56::datatypes::i256::from_i128(-5)),
                    None,
                    Some(arrow56::datatypes::i256::from_parts(7, 3)),
                ])
                .with_precision_and_scale(65, 30)
                .expect("valid decimal type"),
                Decimal256Array::from(vec![Some(i256::from_i128(-5)), None, Some(i256::from_parts(7, 3))])
                    .with_precision_and_scale(65, 30)
                    .expect("valid decimal type"),
            ),
            case(
                "utf8",
                a56::StringArray::from(vec![Some("héllo 🦀👩‍👩‍👧"), None, Some(""), Some("a\0b")]),
                StringArray::from(vec![Some("héllo 🦀👩‍👩‍👧"), None, Some(""), Some("a\0b")]),
            ),
            case(
                "large_utf8",
                a56::LargeStringArray::from(vec![Some(text_10k.as_str()), None, Some("😀")]),
                LargeStringArray::from(vec![Some(text_10k.as_str()), None, Some("😀")]),
            ),
            case(
                "binary",
                a56::BinaryArray::from(vec![Some(&[0u8, 255, 1][..]), None, Some(&[][..])]),
                BinaryArray::from(vec![Some(&[0u8, 255, 1][..]), None, Some(&[][..])]),
            ),
            case(
                "large_binary",
                a56::LargeBinaryArray::from(vec![Some(&[0xde_u8, 0xad][..]), None, Some(&[][..])]),
                LargeBinaryArray::from(vec![Some(&[0xde_u8, 0xad][..]), None, Some(&[][..])]),
            ),
            case(
                "date32",
                a56::Date32Array::from(vec![Some(-719_162), None, Some(0), Some(2_932_896)]),
                Date32Array::from(vec![Some(-719_162), None, Some(0), Some(2_932_896)]),
            ),
            case(
                "date64",
                a56::Date64Array::from(vec![Some(-86_400_000), None, Some(1_700_000_000_000)]),
                Date64Array::from(vec![Some(-86_400_000), None, Some(1_700_000_000_000)]),
            ),
            case(
                "time64_us",
                a56::Time64MicrosecondArray::from(vec![Some(0), None, Some(86_399_999_999)]),
                Time64MicrosecondArray::from(vec![Some(0), None, Some(86_399_999_999)]),
            ),
            case(
                "time64_ns",
                a56::Time64NanosecondArray::from(vec![Some(1), None, Some(86_399_999_999_999)]),
                Time64NanosecondArray::from(vec![Some(1), None, Some(86_399_999_999_999)]),
            ),
            case(
                "ts_us",
                a56::TimestampMicrosecondArray::from(vec![
                    Some(-62_135_596_800_000_000),
                    None,
                    Some(1_700_000_000_123_456),
                ]),
                TimestampMicrosecondArray::from(vec![Some(-62_135_596_800_000_000), None, Some(1_700_000_000_123_456)]),
            ),
            case(
                "ts_us_utc",
                a56::TimestampMicrosecondArray::from(vec![Some(1), None, Some(-1)]).with_timezone("+00:00"),
                TimestampMicrosecondArray::from(vec![Some(1), None, Some(-1)]).with_timezone("+00:00"),
            ),
            case(
                "ts_ns",
                a56::TimestampNanosecondArray::from(vec![Some(i64::MAX), None, Some(i64::MIN)]),
                TimestampNanosecondArray::from(vec![Some(i64::MAX), None, Some(i64::MIN)]),
            ),
            case(
                "ts_ns_tz",
                a56::TimestampNanosecondArray::from(vec![Some(5), None]).with_timezone("Europe/Berlin"),
                TimestampNanosecondArray::from(vec![Some(5), None]).with_timezone("Europe/Berlin"),
            ),
        ]
    }

    fn metadata(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Builds a one-column arrow 56 batch, converts it and checks every value, the type, the
    /// nullability and the metadata.
    fn check_case(case: Case, nullable: bool) {
        let field = d56::Field::new(case.name, case.input.data_type().clone(), nullable)
            .with_metadata(metadata(&[("origin", case.name)]));
        let schema = d56::Schema::new_with_metadata(vec![field], metadata(&[("table", "t")]));
        let batch = arrow56::record_batch::RecordBatch::try_new(Arc::new(schema), vec![case.input])
            .expect("valid arrow 56 batch");

        let converted = batch_from_arrow56(batch).expect("conversion succeeds");

        assert_eq!(converted.num_columns(), 1, "{}", case.name);
        assert_eq!(converted.num_rows(), case.expected.len(), "{}", case.name);
        let field = converted.schema().field(0).clone();
        assert_eq!(field.name(), case.name);
        assert_eq!(field.data_type(), case.expected.data_type(), "{}", case.name);
        assert_eq!(field.is_nullable(), nullable, "{}", case.name);
        assert_eq!(field.metadata(), &metadata(&[("origin", case.name)]));
        assert_eq!(converted.schema().metadata(), &metadata(&[("table", "t")]));
        // `dyn Array` equality compares logical values, null masks included; NaN payloads are
        // compared bit for bit, so NaN == NaN here.
        assert_eq!(converted.column(0).as_ref(), case.expected.as_ref(), "{}", case.name);
    }

    #[test]
    fn every_connectorx_type_round_trips_value_by_value() {
        for case in cases() {
            check_case(case, true);
        }
    }

    #[test]
    fn multi_column_batch_keeps_order_names_and_nullability() {
        let (names, (inputs, expected)): (Vec<_>, (Vec<_>, Vec<_>)) =
            cases().into_iter().filter(|c| c.input.len() == 3).map(|c| (c.name, (c.input, c.expected))).unzip();
        let fields: Vec<_> = names
            .iter()
            .zip(&inputs)
            .enumerate()
            .map(|(i, (name, input))| {
                // Alternate nullability; only columns without nulls may be declared NOT NULL.
                let nullable = i % 2 == 0 || input.null_count() > 0;
                d56::Field::new(*name, input.data_type().clone(), nullable)
            })
            .collect();
        let nullability: Vec<bool> = fields.iter().map(|f| f.is_nullable()).collect();
        let batch = arrow56::record_batch::RecordBatch::try_new(Arc::new(d56::Schema::new(fields)), inputs)
            .expect("valid arrow 56 batch");

        let converted = batch_from_arrow56(batch).expect("conversion succeeds");

        assert_eq!(converted.num_columns(), names.len());
        for (i, name) in names.iter().enumerate() {
            let field = converted.schema().field(i).clone();
            assert_eq!(field.name(), name);
            assert_eq!(field.is_nullable(), nullability[i], "{name}");
            assert_eq!(converted.column(i).as_ref(), expected[i].as_ref(), "{name}");
        }
    }

    #[test]
    fn not_nullable_fields_stay_not_nullable() {
        let input = a56::Int32Array::from(vec![1, 2, 3]);
        let schema = d56::Schema::new(vec![d56::Field::new("id", d56::DataType::Int32, false)]);
        let batch = arrow56::record_batch::RecordBatch::try_new(Arc::new(schema), vec![Arc::new(input)])
            .expect("valid arrow 56 batch");

        let converted = batch_from_arrow56(batch).expect("conversion succeeds");

        assert_eq!(converted.schema().field(0), &Field::new("id", DataType::Int32, false));
    }

    #[test]
    fn sliced_batches_keep_their_window() {
        let strings = a56::StringArray::from(vec![Some("a"), None, Some("ccc"), Some("dd")]);
        let ints = a56::Int64Array::from(vec![Some(1), Some(2), None, Some(4)]);
        let batch = arrow56::record_batch::RecordBatch::try_from_iter(vec![
            ("s", Arc::new(strings) as a56::ArrayRef),
            ("i", Arc::new(ints) as a56::ArrayRef),
        ])
        .expect("valid arrow 56 batch")
        .slice(1, 2);

        let converted = batch_from_arrow56(batch).expect("conversion succeeds");

        assert_eq!(converted.num_rows(), 2);
        assert_eq!(converted.column(0).as_ref(), &StringArray::from(vec![None, Some("ccc")]) as &dyn Array);
        assert_eq!(converted.column(1).as_ref(), &Int64Array::from(vec![Some(2), None]) as &dyn Array);
    }

    #[test]
    fn empty_and_zero_column_batches_keep_schema_and_row_count() {
        let schema = Arc::new(d56::Schema::new(vec![
            d56::Field::new("a", d56::DataType::Utf8, true),
            d56::Field::new("t", d56::DataType::Timestamp(d56::TimeUnit::Microsecond, Some("+00:00".into())), false),
        ]));
        let empty = arrow56::record_batch::RecordBatch::new_empty(schema);
        let converted = batch_from_arrow56(empty).expect("conversion succeeds");
        assert_eq!(converted.num_rows(), 0);
        assert_eq!(
            converted.schema().field(1),
            &Field::new("t", DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())), false)
        );

        let no_columns = arrow56::record_batch::RecordBatch::try_new_with_options(
            Arc::new(d56::Schema::empty()),
            vec![],
            &arrow56::record_batch::RecordBatchOptions::new().with_row_count(Some(5)),
        )
        .expect("valid arrow 56 batch");
        let converted = batch_from_arrow56(no_columns).expect("conversion succeeds");
        assert_eq!(converted.num_columns(), 0);
        assert_eq!(converted.num_rows(), 5);
    }

    /// The value buffer is shared, not copied, and the release callback gives it back exactly
    /// once: afterwards only our own handle references it (no leak), and nothing crashed on the
    /// way (no double free).
    #[test]
    fn buffers_are_shared_and_released_exactly_once() {
        let values = arrow56::buffer::Buffer::from_vec(vec![10_i64, 20, 30]);
        let handle = values.clone();
        let input = a56::Int64Array::new(values.into(), None);
        let batch = arrow56::record_batch::RecordBatch::try_from_iter(vec![("v", Arc::new(input) as a56::ArrayRef)])
            .expect("valid arrow 56 batch");
        assert_eq!(handle.strong_count(), 2, "our handle + the batch");

        let converted = batch_from_arrow56(batch).expect("conversion succeeds");
        // The arrow 56 batch is gone; the arrow 59 import keeps the allocation alive through the
        // exported array's private data.
        assert_eq!(handle.strong_count(), 2, "our handle + the exported array");
        let column = converted.column(0).as_primitive::<arrow::datatypes::Int64Type>();
        assert_eq!(column.values().inner().as_ptr(), handle.as_ptr(), "zero-copy: same memory");
        assert_eq!(column.values().as_ref(), &[10, 20, 30]);

        let copy = converted.clone();
        drop(converted);
        assert_eq!(handle.strong_count(), 2, "still referenced by the clone");
        drop(copy);
        assert_eq!(handle.strong_count(), 1, "released once the last user is gone");
    }
}
