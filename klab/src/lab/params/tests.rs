use super::*;

/// Parses `[params]` tables the way `lab.toml` holds them.
fn params(toml_text: &str) -> Result<Params> {
    #[derive(Deserialize)]
    struct Doc {
        params: Params,
    }
    let doc: Doc = toml::from_str(toml_text)?;
    doc.params.validate(std::iter::empty())?;
    Ok(doc.params)
}

fn err(toml_text: &str) -> String {
    format!("{:#}", params(toml_text).unwrap_err())
}

const LAB: &str = r#"
[params.WHO]
kind = "word"
default = "students"
letters = 8

[params.PROTECT]
kind = "word"
default = "keep.me"
choices = ["keep.me", "secret.txt", "notes.md"]

[params.PORT]
kind = "port"
default = 60000

[params.COUNT]
kind = "int"
default = 4
min = 3
max = 9

[params.ADDR]
kind = "loopback"
default = "127.0.0.2"
"#;

#[test]
fn every_kind_parses_with_its_defaults() {
    let p = params(LAB).unwrap();
    assert_eq!(
        p.names().collect::<Vec<_>>(),
        ["ADDR", "COUNT", "PORT", "PROTECT", "WHO"]
    );
    let d = p.defaults();
    assert_eq!(d.get("WHO"), Some("students"));
    assert_eq!(d.get("PORT"), Some("60000"));
    assert_eq!(d.get("COUNT"), Some("4"));
    assert_eq!(d.get("ADDR"), Some("127.0.0.2"));
    assert_eq!(
        p.0["PORT"],
        Param::Port {
            default: 60000,
            min: 61000,
            max: 65535
        }
    );
}

#[test]
fn draws_are_seeded_typed_and_unlike_the_defaults() {
    let p = params(LAB).unwrap();
    let a = p.draw(42).unwrap();
    assert_eq!(
        a,
        p.draw(42).unwrap(),
        "the same seed draws the same values"
    );
    assert_ne!(a, p.draw(43).unwrap());
    let defaults = p.defaults();
    for seed in 0..200 {
        let v = p.draw(seed).unwrap();
        let who = v.get("WHO").unwrap();
        assert!(
            who.len() == 8 && who.chars().all(|c| c.is_ascii_lowercase()),
            "{who}"
        );
        assert!(["secret.txt", "notes.md"].contains(&v.get("PROTECT").unwrap()));
        let port: u16 = v.get("PORT").unwrap().parse().unwrap();
        assert!((61000..=65535).contains(&port), "{port}");
        let count: u32 = v.get("COUNT").unwrap().parse().unwrap();
        assert!((3..=9).contains(&count) && count != 4, "{count}");
        let addr: Ipv4Addr = v.get("ADDR").unwrap().parse().unwrap();
        assert!(addr.octets()[0] == 127 && addr != Ipv4Addr::new(127, 0, 0, 1));
        assert!(addr != Ipv4Addr::new(127, 0, 0, 2));
        for (name, value) in v.iter() {
            assert!(is_safe_value(value), "{name}={value}");
            assert_ne!(
                Some(value),
                defaults.get(name),
                "{name} drawn as its default"
            );
        }
    }
}

#[test]
fn drawn_values_differ_from_each_other() {
    // Two ports from a range of two: the second must take the value the first left.
    let p = params(
        "[params.A]\nkind = 'port'\ndefault = 5000\nmin = 6000\nmax = 6001\n[params.B]\nkind = 'port'\ndefault = 5001\nmin = 6000\nmax = 6001\n",
    )
    .unwrap();
    for seed in 0..20 {
        let v = p.draw(seed).unwrap();
        assert_ne!(v.get("A"), v.get("B"));
    }
    let crowded = params(
        "[params.A]\nkind = 'int'\ndefault = 1\nmin = 1\nmax = 2\n[params.B]\nkind = 'int'\ndefault = 2\nmin = 1\nmax = 2\n",
    )
    .unwrap();
    let e = format!("{:#}", crowded.draw(1).unwrap_err());
    assert!(
        e.contains("params.A") && e.contains("widen its range"),
        "{e}"
    );
}

#[test]
fn errors_name_the_parameter_and_the_field() {
    let e = err("[params.WHO]\nkind = 'word'\ndefault = 'x'\nlenght = 3\n");
    assert!(e.contains("lenght"), "{e}");
    let e = err("[params.WHO]\nkind = 'colour'\ndefault = 'x'\n");
    assert!(e.contains("colour"), "{e}");
    let e = err("[params.who]\nkind = 'int'\ndefault = 1\nmin = 1\nmax = 3\n");
    assert!(e.contains("params.who") && e.contains("uppercase"), "{e}");
    let e = err("[params.PATH]\nkind = 'int'\ndefault = 1\nmin = 1\nmax = 3\n");
    assert!(
        e.contains("params.PATH") && e.contains("guest shell"),
        "{e}"
    );
    let e = err("[params.N]\nkind = 'int'\ndefault = 1\nmin = 5\nmax = 3\n");
    assert!(
        e.contains("params.N") && e.contains("min (5) is above max (3)"),
        "{e}"
    );
    let e = err("[params.N]\nkind = 'int'\ndefault = 3\nmin = 3\nmax = 3\n");
    assert!(e.contains("only the default"), "{e}");
    let e = err("[params.P]\nkind = 'port'\ndefault = 60000\nmin = 80\n");
    assert!(e.contains("params.P") && e.contains("min (80)"), "{e}");
    let e = err("[params.W]\nkind = 'word'\ndefault = '-rf'\nletters = 3\n");
    assert!(e.contains("params.W") && e.contains("default `-rf`"), "{e}");
    let e = err("[params.W]\nkind = 'word'\ndefault = 'a b'\nletters = 3\n");
    assert!(e.contains("default `a b`"), "{e}");
    let e = err("[params.W]\nkind = 'word'\ndefault = 'ab'\n");
    assert!(e.contains("either `choices`"), "{e}");
    let e = err("[params.W]\nkind = 'word'\ndefault = 'ab'\nletters = 3\nchoices = ['x']\n");
    assert!(e.contains("not both"), "{e}");
    let e = err("[params.W]\nkind = 'word'\ndefault = 'ab'\nchoices = ['ab']\n");
    assert!(e.contains("none differs"), "{e}");
    let e = err("[params.W]\nkind = 'word'\ndefault = 'ab'\nchoices = ['x;y']\n");
    assert!(e.contains("choices: `x;y`"), "{e}");
    let e = err("[params.W]\nkind = 'word'\ndefault = 'ab'\nletters = 3\nprefix = '$('\n");
    assert!(e.contains("prefix `$(`"), "{e}");
    let e = err("[params.A]\nkind = 'loopback'\ndefault = '10.0.0.1'\n");
    assert!(e.contains("params.A") && e.contains("127.0.0.0/8"), "{e}");
    let e = err("[params.A]\nkind = 'int'\ndefault = 7\nmin = 1\nmax = 9\n[params.B]\nkind = 'port'\ndefault = 7\nmin = 2000\nmax = 3000\n");
    assert!(
        e.contains("params.B.default") && e.contains("params.A"),
        "{e}"
    );
}

#[test]
fn a_filter_placeholder_cannot_be_a_parameter() {
    let p: Params =
        toml::from_str::<toml::Table>("[params.PORT]\nkind = 'port'\ndefault = 60000\n").unwrap()
            ["params"]
            .clone()
            .try_into()
            .unwrap();
    let e = format!(
        "{:#}",
        p.validate(["127.0.0.1:[PORT]"].into_iter()).unwrap_err()
    );
    assert!(
        e.contains("params.PORT") && e.contains("127.0.0.1:[PORT]"),
        "{e}"
    );
    assert!(p.validate(["[P1]"].into_iter()).is_ok());
}

#[test]
fn safe_values() {
    for ok in ["keep.me", "60000", "127.0.0.2", "a_b-c", "X"] {
        assert!(is_safe_value(ok), "{ok}");
    }
    for bad in [
        "",
        "-x",
        ".hidden",
        "a b",
        "a'b",
        "$(x)",
        "a/b",
        &"a".repeat(65),
    ] {
        assert!(!is_safe_value(bad), "{bad}");
    }
}
