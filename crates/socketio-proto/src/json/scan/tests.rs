use super::placeholders::placeholders;
use super::*;
use proptest::prelude::*;
use serde::de::{self, Deserializer as _, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// What serde_json says of the same text, in the same terms.
fn reference(data: &[u8]) -> Result<ArrayShape, NotAnArray> {
    struct ArrayVisitor;

    impl<'de> Visitor<'de> for ArrayVisitor {
        type Value = (Option<&'de RawValue>, Option<&'de RawValue>);

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an array")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let first = seq.next_element::<&'de RawValue>()?;
            let second = match first {
                Some(_) => seq.next_element::<&'de RawValue>()?,
                None => None,
            };
            if second.is_some() {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
            }
            Ok((first, second))
        }
    }

    let mut deserializer = serde_json::Deserializer::from_slice(data);
    let (first, second) = deserializer
        .deserialize_seq(ArrayVisitor)
        .map_err(|_| NotAnArray)?;
    deserializer.end().map_err(|_| NotAnArray)?;
    let offset = |raw: &RawValue| raw.get().as_ptr() as usize - data.as_ptr() as usize;
    Ok(ArrayShape {
        first: first.map(|raw| offset(raw)..offset(raw) + raw.get().len()),
        second: second.map(offset),
        close: data.iter().rposition(|&b| b == b']').unwrap_or(0),
    })
}

#[track_caller]
fn agrees(text: &str) {
    assert_eq!(
        array(text.as_bytes()),
        reference(text.as_bytes()),
        "{text:?}"
    );
}

#[test]
fn valid_arrays() {
    for text in [
        "[]",
        " [ ] ",
        "[\"echo\"]",
        "[\"echo\",{\"a\":[1,2.5e-3,-0,true,false,null]},\"x\"]",
        "[1,[],{},[[]],{\"\":{}}]",
        "\t[\n\"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9\\uD800\"\r]",
        "[\"é漢字\",\"😀\"]",
        "[0.0,1E5,1e+5,1e-5,-12.75]",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    ] {
        assert!(array(text.as_bytes()).is_ok(), "{text:?}");
        agrees(text);
    }
}

#[test]
fn invalid_text() {
    for text in [
        "",
        "   ",
        "{}",
        "\"a\"",
        "[",
        "]",
        "[,]",
        "[1,]",
        "[1 2]",
        "[1]]",
        "[1] [2]",
        "[01]",
        "[1.]",
        "[.5]",
        "[1e]",
        "[1e+]",
        "[-]",
        "[--1]",
        "[+1]",
        "[tru]",
        "[nul]",
        "[True]",
        "[\"a]",
        "[\"\\x\"]",
        "[\"\\u12g4\"]",
        "[\"\\u12\"]",
        "[\"a\u{1}\"]",
        "[{\"a\"}]",
        "[{\"a\":}]",
        "[{1:2}]",
        "[{\"a\":1,}]",
        "[{\"a\":1]]",
        "[[1}]",
        "[/* */1]",
        "[1]x",
        "[NaN]",
        "[\u{a0}1]",
    ] {
        assert!(array(text.as_bytes()).is_err(), "{text:?}");
        agrees(text);
    }
}

#[test]
fn special_bytes_are_found_wherever_they_are() {
    for len in 0..20 {
        for at in 0..len {
            for special in [b'"', b'\\', 0x00, 0x1f] {
                let mut text = vec![b'a'; len];
                text[at] = special;
                // Bytes that sit next to the specials' values must not be taken for them.
                if at + 1 < len {
                    text[at + 1] = 0x21;
                }
                assert_eq!(special_byte(&text), Some(at), "{text:?}");
            }
        }
        for plain in [0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xe9, 0xff] {
            assert_eq!(special_byte(&vec![plain; len]), None, "{plain:#x} × {len}");
        }
    }
}

#[test]
fn deep_nesting_needs_no_recursion_and_closes_in_order() {
    for depth in [127, 128, 129, 300, 10_000] {
        let good = format!("[{}{}]", "[".repeat(depth), "]".repeat(depth));
        assert!(array(good.as_bytes()).is_ok(), "depth {depth}");
        let mixed = format!("[{}1{}]", "[{\"k\":".repeat(depth), "}]".repeat(depth));
        assert!(array(mixed.as_bytes()).is_ok(), "depth {depth}");
        let crossed = format!("[{}1{}]", "[{\"k\":".repeat(depth), "]}".repeat(depth));
        assert!(array(crossed.as_bytes()).is_err(), "depth {depth}");
        let unclosed = format!("[{}]", "[".repeat(depth));
        assert!(array(unclosed.as_bytes()).is_err(), "depth {depth}");
    }
}

/// Binary packets' data: placeholders good and bad among other values, keys escaped or
/// repeated, nesting up to the limit.
fn with_placeholders() -> impl Strategy<Value = String> {
    let num = prop_oneof![
        (0u64..4).prop_map(|n| n.to_string()),
        Just("-0".to_owned()),
        Just("-1".to_owned()),
        Just("1.0".to_owned()),
        Just("1e0".to_owned()),
        Just("18446744073709551615".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("\"0\"".to_owned()),
        Just("null".to_owned()),
        Just("[0]".to_owned()),
    ];
    let flag = prop_oneof![
        Just("true"),
        Just("false"),
        Just("1"),
        Just("\"true\""),
        Just("[true]"),
    ];
    let placeholder_key = prop_oneof![
        Just("\"_placeholder\""),
        Just("\"\\u005fplaceholder\""),
        Just("\"_placeholder \""),
    ];
    let num_key = prop_oneof![Just("\"num\""), Just("\"n\\u0075m\""), Just("\"Num\"")];
    let entry = prop_oneof![
        (placeholder_key, flag).prop_map(|(k, v)| format!("{k}:{v}")),
        (num_key, num).prop_map(|(k, v)| format!("{k}:{v}")),
        Just("\"x\":1".to_owned()),
    ];
    let placeholder = proptest::collection::vec(entry, 0..4)
        .prop_map(|entries| format!("{{{}}}", entries.join(",")));
    let leaf = prop_oneof![
        (0u64..4).prop_map(|n| format!("{{\"_placeholder\":true,\"num\":{n}}}")),
        placeholder.clone(),
        placeholder.clone(),
        Just("\"s\"".to_owned()),
        Just("7".to_owned()),
    ];
    let value = leaf.prop_recursive(4, 24, 4, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(","))),
            proptest::collection::vec(inner.clone(), 0..3).prop_map(|items| {
                let entries: Vec<String> = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| format!("\"k{i}\":{v}"))
                    .collect();
                format!("{{{}}}", entries.join(","))
            }),
            // The values of the special keys are not looked into.
            inner.clone().prop_map(|v| format!("{{\"num\":{v}}}")),
            inner.prop_map(|v| format!("{{\"_placeholder\":{v},\"num\":0}}")),
        ]
    });
    proptest::collection::vec(value, 0..4).prop_map(|items| {
        format!(
            "[\"e\"{}]",
            items.iter().map(|v| format!(",{v}")).collect::<String>()
        )
    })
}

fn reference_placeholders(text: &str, attachments: usize) -> bool {
    crate::json::reference::check_placeholders(text.as_bytes(), attachments).is_ok()
}

#[test]
fn placeholders_as_serde_json_saw_them() {
    for (text, attachments, ok) in [
        (r#"["e",{"_placeholder":true,"num":0}]"#, 1, true),
        (r#"["e",{"_placeholder":true,"num":1}]"#, 1, false),
        (
            r#"["e",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]"#,
            2,
            false,
        ),
        (r#"["e",{"_placeholder":true}]"#, 1, false),
        (r#"["e",{"_placeholder":false,"num":9}]"#, 1, true),
        (
            r#"["e",{"_placeholder":true,"num":0,"_placeholder":false}]"#,
            1,
            true,
        ),
        (r#"["e",{"_placeholder":true,"num":-0}]"#, 1, false),
        (r#"["e",{"_placeholder":true,"num":0.0}]"#, 1, false),
        (r#"["e",{"_placeholder":true,"num":0}]"#, 1, true),
        (
            r#"["e",{"num":{"_placeholder":true,"num":0}},{"_placeholder":true,"num":0}]"#,
            1,
            true,
        ),
        (r#"["e",{"a":[{"_placeholder":true,"num":2}]}]"#, 3, true),
        (r#"["e",{"_placeholder":true,"num":200}]"#, 201, true),
        (
            r#"["e",{"_placeholder":true,"num":200},{"_placeholder":true,"num":200}]"#,
            201,
            false,
        ),
    ] {
        assert_eq!(
            placeholders(text.as_bytes(), attachments).is_ok(),
            ok,
            "{text}"
        );
        assert_eq!(reference_placeholders(text, attachments), ok, "{text}");
    }
}

#[test]
fn placeholder_nesting_stops_where_serde_json_did() {
    for depth in 120..=135 {
        for inner in ["1", "{\"num\":[[]]}", "{\"_placeholder\":true,\"num\":0}"] {
            let text = format!("{}{inner}{}", "[".repeat(depth), "]".repeat(depth));
            assert_eq!(
                placeholders(text.as_bytes(), 1).is_ok(),
                reference_placeholders(&text, 1),
                "depth {depth}: {inner}"
            );
        }
    }
}

/// JSON-like text: valid documents, then small edits that often break them.
fn json_like() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        "-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?",
        "\"([a-z \u{e9}\u{1F600}]|\\\\[\"\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4}){0,6}\"",
    ];
    let value = leaf.prop_recursive(6, 48, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5)
                .prop_map(|items| format!("[{}]", items.join(","))),
            proptest::collection::vec(("\"[a-z]{0,3}\"", inner), 0..4).prop_map(|entries| {
                let entries: Vec<String> = entries
                    .into_iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect();
                format!("{{{}}}", entries.join(","))
            }),
        ]
    });
    let array =
        proptest::collection::vec(value, 0..5).prop_map(|items| format!("[{}]", items.join(" , ")));
    (
        array,
        proptest::collection::vec(
            (
                any::<prop::sample::Index>(),
                "[\\[\\]{},:\" \\\\0-9a-z.+\\-\u{1}]{0,2}",
            ),
            0..3,
        ),
        any::<bool>(),
    )
        .prop_map(|(mut text, edits, apply)| {
            if apply {
                for (at, insert) in edits {
                    let mut cut = at.index(text.len() + 1);
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    let end = (cut + 1).min(text.len());
                    let end = if text.is_char_boundary(end) { end } else { cut };
                    text.replace_range(cut..end, &insert);
                }
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn agrees_with_serde_json(text in json_like()) {
        prop_assert_eq!(array(text.as_bytes()), reference(text.as_bytes()), "{:?}", text);
    }

    #[test]
    fn placeholders_agree_with_serde_json(
        text in with_placeholders(),
        attachments in 0usize..5,
    ) {
        prop_assert!(array(text.as_bytes()).is_ok(), "{}", text);
        prop_assert_eq!(
            placeholders(text.as_bytes(), attachments).is_ok(),
            reference_placeholders(&text, attachments),
            "{} with {} attachments", text, attachments
        );
    }

    #[test]
    fn agrees_with_serde_json_on_any_text(text in "[\\[\\]{}\",:0-9a-z.\\-\\\\ ]{0,24}") {
        prop_assert_eq!(array(text.as_bytes()), reference(text.as_bytes()), "{:?}", text);
    }
}
