//! A signed span of time (an Arrow `Duration`, such as a MySQL `TIME` carries) as the text a
//! target without a span type stores: MySQL's own notation, which MySQL reads back as the same
//! `TIME`. Shared here so that no backend folder reads another's.

/// `micros` microseconds as `[-]H:MM:SS.ffffff`, hours unbounded (`838:59:59.000000`,
/// `-01:30:00.000000`).
pub fn span_text(micros: i64) -> String {
    let magnitude = micros.unsigned_abs();
    let seconds = magnitude / 1_000_000;
    format!(
        "{}{:02}:{:02}:{:02}.{:06}",
        if micros < 0 { "-" } else { "" },
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        magnitude % 1_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::span_text;

    #[test]
    fn spans_read_as_mysql_writes_a_time() {
        assert_eq!(span_text(3_020_399_000_000), "838:59:59.000000");
        assert_eq!(span_text(-5_400_000_000), "-01:30:00.000000");
        assert_eq!(span_text(1), "00:00:00.000001");
    }
}
