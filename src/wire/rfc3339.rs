//! Writing an instant (epoch milliseconds) as RFC 3339 UTC with milliseconds and a `Z`, the way
//! every timestamp in a response is written, without allocating: a list of 100 tasks writes 200
//! to 400 of them, and chrono's general formatter (a `String` each) was an eighth of a list's
//! instructions.

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub const LEN: usize = 24;

/// `at_ms` as RFC 3339, or `None` outside years 0000-9999 (whose form has a sign and more digits;
/// the caller then uses chrono).
pub fn format_millis(at_ms: i64) -> Option<[u8; LEN]> {
    const MS_PER_DAY: i64 = 86_400_000;
    let days = at_ms.div_euclid(MS_PER_DAY);
    let ms_of_day = at_ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return None;
    }
    let (hour, minute) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60);
    let (second, milli) = (ms_of_day / 1000 % 60, ms_of_day % 1000);
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut value: i64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, hour);
    put(14, 2, minute);
    put(17, 2, second);
    put(20, 3, milli);
    Some(out)
}

/// The proleptic Gregorian (year, month, day) of a day number counted from 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrono(at_ms: i64) -> String {
        chrono::DateTime::from_timestamp_millis(at_ms)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    fn ours(at_ms: i64) -> Option<String> {
        format_millis(at_ms).map(|b| String::from_utf8(b.to_vec()).unwrap())
    }

    #[test]
    fn every_instant_in_range_is_written_as_chrono_writes_it() {
        let first = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
        let last = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
        let mut samples = vec![
            first,
            last,
            0,
            -1,
            1,
            951_782_400_000,    // 2000-02-29
            4_107_542_399_999,  // 2100-02-28T23:59:59.999
            1_767_225_599_999,  // the last millisecond of 2025
            -2_208_988_800_001, // just before 1900
        ];
        // A deterministic spread over the whole range, every day boundary of a leap cycle.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            samples.push(first + (x % (last - first + 1) as u64) as i64);
        }
        samples.extend((0..4 * 366).map(|d| 946_684_800_000 + d * 86_400_000 - 1));
        for at in samples {
            assert_eq!(ours(at).as_deref(), Some(chrono(at).as_str()), "{at}");
        }
    }

    #[test]
    fn years_outside_four_digits_are_left_to_chrono() {
        assert_eq!(ours(-62_167_219_200_001), None);
        assert_eq!(ours(253_402_300_800_000), None);
    }
}
