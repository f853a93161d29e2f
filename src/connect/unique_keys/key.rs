//! The key of an upsert's rows: the key columns of a batch as bytes (Arrow's row format, equal
//! bytes for equal keys), a 128-bit hash of them to remember a key cheaply, and a key as the
//! messages quote it (`id = 7`, `(id, region) = (7, 'eu')`).

use std::hash::{DefaultHasher, Hash, Hasher};

use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::row::{RowConverter, Rows, SortField};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::{DataFusionError, Result};

/// The key columns of a sink's input.
pub struct KeyColumns {
    pub names: Vec<String>,
    indices: Vec<usize>,
    converter: RowConverter,
}

impl KeyColumns {
    /// The columns `names` of `schema`. Errors when one is missing (`check` says so first, when
    /// it can see the input's columns).
    pub fn new(schema: &SchemaRef, names: &[String]) -> Result<Self> {
        let mut indices = Vec::with_capacity(names.len());
        let mut fields = Vec::with_capacity(names.len());
        for name in names {
            let index = schema.index_of(name).map_err(|_| {
                DataFusionError::Plan(format!("the upsert key `{name}` is not a column of the sink's input"))
            })?;
            indices.push(index);
            fields.push(SortField::new(schema.field(index).data_type().clone()));
        }
        Ok(Self { names: names.to_vec(), indices, converter: RowConverter::new(fields)? })
    }

    /// Each row's key as bytes: equal keys, equal bytes.
    pub fn rows(&self, batch: &RecordBatch) -> Result<Rows> {
        let columns: Vec<ArrayRef> = self.indices.iter().map(|&i| batch.column(i).clone()).collect();
        Ok(self.converter.convert_columns(&columns)?)
    }

    /// The key of row `row`, as messages quote it: `id = 7`, `(id, region) = (7, 'eu')`.
    pub fn describe(&self, batch: &RecordBatch, row: usize) -> String {
        let values: Vec<String> = self.indices.iter().map(|&i| value_text(batch.column(i), row)).collect();
        if self.names.len() == 1 {
            format!("{} = {}", self.names[0], values[0])
        } else {
            format!("({}) = ({})", self.names.join(", "), values.join(", "))
        }
    }
}

/// A key's bytes as a 128-bit hash: two SipHash outputs of the bytes behind different prefixes.
/// Two keys of one run share a hash with a probability of about n² / 2¹²⁹ (n keys).
pub fn key_hash(bytes: &[u8]) -> u128 {
    let half = |prefix: u8| {
        let mut h = DefaultHasher::new();
        prefix.hash(&mut h);
        bytes.hash(&mut h);
        h.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}

/// A set of [`key_hash`]es. They are hashes already, so the set takes their low 64 bits as its
/// own hash instead of hashing them again.
pub type KeySet = std::collections::HashSet<u128, std::hash::BuildHasherDefault<Prehashed>>;

/// The [`Hasher`] of [`KeySet`]: a `u128` written to it is its hash.
#[derive(Default)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u128`s are hashed with it; anything else still gets a usable hash.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

/// One value as messages quote it: text in single quotes, NULL, anything else as Arrow
/// displays it.
pub fn value_text(column: &ArrayRef, row: usize) -> String {
    if column.is_null(row) {
        return "NULL".to_string();
    }
    let options = FormatOptions::default();
    let text = ArrayFormatter::try_new(column.as_ref(), &options)
        .map(|f| f.value(row).to_string())
        .unwrap_or_else(|_| "?".to_string());
    match column.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => format!("'{}'", text.replace('\'', "''")),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn keys_are_equal_bytes_and_quoted_as_sql_reads_them() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("region", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![Some(7), Some(7), None])),
                Arc::new(StringArray::from(vec![Some("o'neil"), Some("o'neil"), Some("x")])),
            ],
        )
        .unwrap();
        let keys = KeyColumns::new(&schema, &["id".into(), "region".into()]).unwrap();
        let rows = keys.rows(&batch).unwrap();
        assert_eq!(key_hash(rows.row(0).as_ref()), key_hash(rows.row(1).as_ref()));
        assert_ne!(key_hash(rows.row(0).as_ref()), key_hash(rows.row(2).as_ref()));
        assert_eq!(keys.describe(&batch, 0), "(id, region) = (7, 'o''neil')");
        assert_eq!(KeyColumns::new(&schema, &["id".into()]).unwrap().describe(&batch, 2), "id = NULL");
        let missing = KeyColumns::new(&schema, &["nope".into()]).err().unwrap().to_string();
        assert!(missing.contains("the upsert key `nope` is not a column of the sink's input"), "{missing}");
    }
}
