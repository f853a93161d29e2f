//! Decimals without a declared precision and scale — PostgreSQL's unconstrained `numeric` —
//! carried as their exact decimal text.
//!
//! An unconstrained `numeric` holds up to 131,072 integer and 16,383 fractional digits, and
//! `NaN`, `Infinity` and `-Infinity` (PostgreSQL docs, "8.1.2 Arbitrary Precision Numbers").
//! No Arrow decimal holds all of that (Decimal256 has 76 digits and no NaN), and the scale a
//! column needs is only known once every value is seen. So the column travels as Arrow `Utf8`
//! holding PostgreSQL's own output text (`numeric_out`: digits, an optional `-` and `.`, the
//! value's own scale kept, as in `1.50`; or `NaN`, `Infinity`, `-Infinity`), and the field's
//! metadata [`METADATA_KEY`] says the text is a decimal number. Each target then gets the
//! widest type that keeps every value exactly:
//!
//! | target     | column type        | values that cannot be kept                                     |
//! |------------|--------------------|----------------------------------------------------------------|
//! | PostgreSQL | `numeric`          | none (`NaN`, `±Infinity` kept)                                  |
//! | MySQL      | `DECIMAL(65,30)`   | more than 35 integer or 30 fractional digits, `NaN`, `±Infinity`: refused by column, row and value (MySQL would round extra fractional digits with only a note, even in strict mode) |
//! | SQLite     | `TEXT`             | none: the exact text, as Flow stores every decimal in SQLite    |
//! | Parquet    | string             | none: the exact text (cast to `decimal(p,s)` for a decimal)     |
//! | CSV        | text               | none                                                           |
//!
//! `explain` names each such column with what its target does (each backend's
//! `StagedBackend::inexact`, or the file format's note).

use std::collections::HashMap;

use arrow::datatypes::{DataType, Field};

/// Field metadata key: `"true"` on a `Utf8` column whose values are exact decimal text.
pub const METADATA_KEY: &str = "flow.decimal_text";

/// The value of decimal text written one way: without trailing fractional zeros (`1.50` and
/// `1.500000` are `1.5`, `2.000` is `2`) and without the sign of a zero (`-0.0` is `0`); any
/// other text (`NaN`, `Infinity`) as it is. Values compare equal when their numbers are equal
/// (`flow verify`: MySQL's `DECIMAL(65,30)` gives back `1.500000000000000000000000000000` for
/// PostgreSQL's `1.50`).
pub fn canonical(text: &str) -> std::borrow::Cow<'_, str> {
    let decimal = |t: &str| t.strip_prefix('-').unwrap_or(t).bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if !decimal(text) || text.is_empty() {
        return text.into();
    }
    let trimmed = match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.'),
        false => text,
    };
    let unsigned = trimmed.strip_prefix('-').unwrap_or(trimmed);
    if unsigned.bytes().all(|b| b == b'0') {
        return "0".into();
    }
    if trimmed.len() == text.len() { text.into() } else { trimmed.to_string().into() }
}

/// `field` marked as holding exact decimal text.
pub fn mark(field: Field) -> Field {
    let mut metadata: HashMap<String, String> = field.metadata().clone();
    metadata.insert(METADATA_KEY.to_string(), "true".to_string());
    field.with_metadata(metadata)
}

/// Whether `field` is a text column marked as exact decimal text.
pub fn is_decimal_text(field: &Field) -> bool {
    matches!(field.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        && field.metadata().get(METADATA_KEY).is_some_and(|v| v == "true")
}

/// Why decimal text does not fit a `DECIMAL(precision, scale)` exactly ([`fits_decimal`]); its
/// text is the reason, for a message naming the column and row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalMisfit {
    /// `NaN` or `±Infinity`, which no `DECIMAL` holds.
    #[error("{text} has no DECIMAL({precision},{scale}) equivalent (no NaN or infinity)")]
    NotFinite { text: String, precision: u32, scale: u32 },
    /// Not `[+-]digits[.digits]`.
    #[error("{text} is not a decimal number")]
    NotDecimal { text: String },
    /// More integer or fractional digits than the type keeps.
    #[error(
        "{text} has {int_digits} integer and {frac_digits} fractional digits; DECIMAL({precision},{scale}) holds at \
         most {} and {scale}, and would not keep it exactly",
        .precision.saturating_sub(*.scale)
    )]
    TooManyDigits { text: String, int_digits: usize, frac_digits: usize, precision: u32, scale: u32 },
}

/// Checks that decimal text `text` is held exactly by `DECIMAL(precision, scale)`: at most
/// `precision - scale` integer digits (leading zeros aside) and `scale` fractional digits
/// (trailing zeros aside).
pub fn fits_decimal(text: &str, precision: u32, scale: u32) -> Result<(), DecimalMisfit> {
    let t = text.trim();
    let unsigned = t.strip_prefix(['-', '+']).unwrap_or(t);
    if unsigned.eq_ignore_ascii_case("nan") || unsigned.eq_ignore_ascii_case("infinity") {
        return Err(DecimalMisfit::NotFinite { text: t.to_string(), precision, scale });
    }
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if int.is_empty() && frac.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(DecimalMisfit::NotDecimal { text: t.to_string() });
    }
    let int_digits = int.trim_start_matches('0').len();
    let frac_digits = frac.trim_end_matches('0').len();
    let int_max = precision.saturating_sub(scale) as usize;
    if int_digits > int_max || frac_digits > scale as usize {
        return Err(DecimalMisfit::TooManyDigits { text: t.to_string(), int_digits, frac_digits, precision, scale });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_only_what_the_decimal_keeps_exactly() {
        assert_eq!(fits_decimal("0", 65, 30), Ok(()));
        assert_eq!(fits_decimal("-0.5", 65, 30), Ok(()));
        assert_eq!(fits_decimal("123456789012345678901234567890.123456789", 65, 30), Ok(()));
        assert_eq!(fits_decimal(&format!("0.{}1", "0".repeat(29)), 65, 30), Ok(()));
        // Trailing fractional zeros and leading integer zeros cost nothing.
        assert_eq!(fits_decimal(&format!("1.{}", "0".repeat(40)), 65, 30), Ok(()));
        assert_eq!(
            fits_decimal(&format!("0.{}1", "0".repeat(29)), 65, 29).map_err(|e| e.to_string()),
            Err(format!(
                "0.{}1 has 0 integer and 30 fractional digits; DECIMAL(65,29) holds at most 36 and 29, and would \
                 not keep it exactly",
                "0".repeat(29)
            ))
        );
        assert!(matches!(
            fits_decimal(&"9".repeat(36), 65, 30),
            Err(DecimalMisfit::TooManyDigits { int_digits: 36, frac_digits: 0, .. })
        ));
        assert_eq!(
            fits_decimal("NaN", 65, 30).map_err(|e| e.to_string()),
            Err("NaN has no DECIMAL(65,30) equivalent (no NaN or infinity)".to_string())
        );
        assert!(matches!(fits_decimal("-Infinity", 65, 30), Err(DecimalMisfit::NotFinite { .. })));
        assert_eq!(fits_decimal("1e5", 65, 30), Err(DecimalMisfit::NotDecimal { text: "1e5".into() }));
        assert!(matches!(fits_decimal(".", 65, 30), Err(DecimalMisfit::NotDecimal { .. })));
    }

    #[test]
    fn marks_text_fields_only() {
        let text = mark(Field::new("n", DataType::Utf8, true));
        assert!(is_decimal_text(&text));
        assert!(!is_decimal_text(&Field::new("n", DataType::Utf8, true)));
        assert!(!is_decimal_text(&mark(Field::new("n", DataType::Int64, true))));
    }
}

#[cfg(test)]
mod canonical_tests {
    use super::canonical;

    #[test]
    fn equal_numbers_are_written_one_way() {
        for (text, want) in [
            ("1.50", "1.5"),
            ("1.500000000000000000000000000000", "1.5"),
            ("2.000", "2"),
            ("-0.000010000", "-0.00001"),
            ("-0.0", "0"),
            ("0", "0"),
            ("100", "100"),
            ("123456789.000123000", "123456789.000123"),
            ("NaN", "NaN"),
            ("-Infinity", "-Infinity"),
        ] {
            assert_eq!(canonical(text), want, "{text}");
        }
    }
}
