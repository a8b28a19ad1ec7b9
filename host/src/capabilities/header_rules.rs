//! What a script may hand the server as HTTP text: header names, header
//! values, URLs that become a `Location`, and request extensions.
//!
//! The rules are the `http` crate's (what `HeaderName::from_bytes` and
//! `HeaderValue::from_bytes` accept), so a server that builds a response from
//! a plugin's output with that crate's builders never fails or panics on it,
//! and no script can split a header or a response (`"a\r\nset-cookie: ..."`):
//!
//! * a header name is an RFC 9110 token: one or more of the letters, digits
//!   and ``!#$%&'*+-.^_`|~``;
//! * a header value (and a redirect URL, an ETag, a presigned URL) has no
//!   control character other than horizontal tab: no CR, LF or NUL, nothing
//!   below 0x20, no DEL (0x7F); other bytes, UTF-8 included, pass;
//! * a request extension (`bext.middleware_continue(extensions)`), which
//!   servers often forward as a header or log line, has no CR, LF or NUL in
//!   its key or value.
//!
//! A violation is [`Error::BadEnvelope`](crate::Error::BadEnvelope) naming the
//! plugin, the method and the header.

/// `Ok` when `name` is an RFC 9110 token.
pub(crate) fn check_header_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a header name must not be empty".into());
    }
    match name.bytes().position(|b| !is_tchar(b)) {
        None => Ok(()),
        Some(at) => Err(format!(
            "header name {name:?} is not an RFC 9110 token (byte {at} is {})",
            describe_byte(name.as_bytes()[at])
        )),
    }
}

/// `Ok` when `value` of header `name` has no control character but tab.
pub(crate) fn check_header_value(name: &str, value: &str) -> Result<(), String> {
    match value
        .bytes()
        .position(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        None => Ok(()),
        Some(at) => Err(format!(
            "the value of header `{}` contains {} at byte {at} (header values may not hold control characters)",
            name.escape_default(),
            describe_byte(value.as_bytes()[at])
        )),
    }
}

/// `Ok` when `name: value` is a header the `http` crate accepts.
pub(crate) fn check_header(name: &str, value: &str) -> Result<(), String> {
    check_header_name(name)?;
    check_header_value(name, value)
}

/// `Ok` when a request extension has no CR, LF or NUL in key or value.
pub(crate) fn check_extension(key: &str, value: &str) -> Result<(), String> {
    for (what, text) in [("key", key), ("value", value)] {
        if let Some(at) = text.bytes().position(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(format!(
                "the {what} of extension `{}` contains {} at byte {at}",
                key.escape_default(),
                describe_byte(text.as_bytes()[at])
            ));
        }
    }
    Ok(())
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn describe_byte(b: u8) -> String {
    match b {
        b'\r' => "CR".into(),
        b'\n' => "LF".into(),
        0 => "NUL".into(),
        b if b.is_ascii_graphic() => format!("{:?}", b as char),
        b => format!("0x{b:02x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_tokens() {
        for ok in ["x-a", "Content-Type", "a!#$%&'*+-.^_`|~1"] {
            assert_eq!(check_header_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a b", "a:b", "a\r\nb", "a\0", "é", "(x)", "a\"b", "x\t"] {
            assert!(check_header_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn values_have_no_control_characters_but_tab() {
        for ok in ["", "a b", "tab\there", "héllo 🦀", "\"quoted\""] {
            assert_eq!(check_header_value("h", ok), Ok(()), "{ok:?}");
        }
        for bad in [
            "a\r\nset-cookie: x",
            "a\nb",
            "a\rb",
            "a\0b",
            "a\x01",
            "a\x7f",
        ] {
            let message = check_header_value("x-h", bad).unwrap_err();
            assert!(message.contains("`x-h`"), "{message}");
        }
        assert!(
            check_header_value("h", "a\r\nb")
                .unwrap_err()
                .contains("CR at byte 1")
        );
    }

    #[test]
    fn extensions_have_no_line_breaks_or_nul() {
        assert_eq!(check_extension("user.id", "alice\t\x7f{}"), Ok(()));
        assert!(check_extension("a\nb", "v").unwrap_err().contains("key"));
        assert!(
            check_extension("k", "v\r\nx: y")
                .unwrap_err()
                .contains("value of extension `k`")
        );
        assert!(check_extension("k", "\0").is_err());
    }
}
