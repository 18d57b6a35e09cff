//! `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`.

use super::trace::Sampler;

/// The sampler variable.
pub const TRACES_SAMPLER_ENV: &str = "OTEL_TRACES_SAMPLER";
/// Its argument (the ratio of the `*traceidratio` samplers).
pub const TRACES_SAMPLER_ARG_ENV: &str = "OTEL_TRACES_SAMPLER_ARG";

/// The sampler the two variables name, and a warning for what could not be
/// used. `None` when `OTEL_TRACES_SAMPLER` is unset or empty.
///
/// Values (case-insensitive): `always_on`, `always_off`, `traceidratio`,
/// `parentbased_always_on` (the default), `parentbased_always_off`,
/// `parentbased_traceidratio`. The two ratio samplers are consistent
/// probability samplers. `jaeger_remote`, `parentbased_jaeger_remote` and
/// `xray` need a remote service this engine does not talk to, and an
/// unknown value is an error of the operator's: each gives a warning and
/// the default. The argument is read only for the ratio samplers; unset, it
/// is 1.0; a value that is not a number in [0, 1] gives a warning and 1.0.
pub(crate) fn from_vars(
    sampler: Option<&str>,
    arg: Option<&str>,
) -> (Option<Sampler>, Option<String>) {
    let Some(name) = sampler.map(str::trim).filter(|s| !s.is_empty()) else {
        return (None, None);
    };
    let default = || Sampler::parent_based(Sampler::AlwaysOn);
    let ratio = || -> (f64, Option<String>) {
        match arg.map(str::trim).filter(|s| !s.is_empty()) {
            None => (1.0, None),
            Some(a) => match a.parse::<f64>() {
                Ok(p) if (0.0..=1.0).contains(&p) => (p, None),
                _ => (
                    1.0,
                    Some(format!(
                        "{TRACES_SAMPLER_ARG_ENV}={a:?} is not a ratio in [0, 1]; using 1.0"
                    )),
                ),
            },
        }
    };
    match name.to_ascii_lowercase().as_str() {
        "always_on" => (Some(Sampler::AlwaysOn), None),
        "always_off" => (Some(Sampler::AlwaysOff), None),
        "traceidratio" => {
            let (p, w) = ratio();
            (Some(Sampler::probability(p)), w)
        }
        "parentbased_always_on" => (Some(default()), None),
        "parentbased_always_off" => (Some(Sampler::parent_based(Sampler::AlwaysOff)), None),
        "parentbased_traceidratio" => {
            let (p, w) = ratio();
            (Some(Sampler::parent_based(Sampler::probability(p))), w)
        }
        v @ ("jaeger_remote" | "parentbased_jaeger_remote" | "xray") => (
            Some(default()),
            Some(format!(
                "{TRACES_SAMPLER_ENV}={v} needs a remote sampling service, which this engine \
                 does not support; using parentbased_always_on"
            )),
        ),
        _ => (
            Some(default()),
            Some(format!(
                "{TRACES_SAMPLER_ENV}={name:?} is not a known sampler; using parentbased_always_on"
            )),
        ),
    }
}

/// [`from_vars`] on the process's environment.
pub(crate) fn from_env() -> (Option<Sampler>, Option<String>) {
    let s = std::env::var(TRACES_SAMPLER_ENV).ok();
    let a = std::env::var(TRACES_SAMPLER_ARG_ENV).ok();
    from_vars(s.as_deref(), a.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pb(s: Sampler) -> Sampler {
        Sampler::parent_based(s)
    }

    #[test]
    fn every_value_the_specification_lists() {
        let cases: &[(&str, Option<&str>, Sampler, bool)] = &[
            ("always_on", None, Sampler::AlwaysOn, false),
            ("ALWAYS_OFF", None, Sampler::AlwaysOff, false),
            (
                "traceidratio",
                Some("0.25"),
                Sampler::probability(0.25),
                false,
            ),
            ("TraceIdRatio", None, Sampler::probability(1.0), false),
            ("parentbased_always_on", None, pb(Sampler::AlwaysOn), false),
            (
                "parentbased_always_off",
                None,
                pb(Sampler::AlwaysOff),
                false,
            ),
            (
                "parentbased_traceidratio",
                Some(" 0.1 "),
                pb(Sampler::probability(0.1)),
                false,
            ),
            ("jaeger_remote", None, pb(Sampler::AlwaysOn), true),
            (
                "parentbased_jaeger_remote",
                None,
                pb(Sampler::AlwaysOn),
                true,
            ),
            ("xray", None, pb(Sampler::AlwaysOn), true),
            ("bogus", None, pb(Sampler::AlwaysOn), true),
        ];
        for (name, arg, want, warns) in cases {
            let (got, w) = from_vars(Some(name), *arg);
            assert_eq!(got.as_ref(), Some(want), "{name}");
            assert_eq!(w.is_some(), *warns, "{name}: {w:?}");
        }
    }

    #[test]
    fn bad_ratio_warns_and_uses_one() {
        for bad in ["abc", "-0.1", "1.5", "NaN", "inf"] {
            let (got, w) = from_vars(Some("traceidratio"), Some(bad));
            assert_eq!(got, Some(Sampler::probability(1.0)), "{bad}");
            let w = w.expect("a warning");
            assert!(w.contains(TRACES_SAMPLER_ARG_ENV), "{w}");
        }
    }

    proptest! {
        /// Whatever the two variables hold (they come from whoever deploys
        /// the service): no panic; a sampler is given exactly when the
        /// first is set; a warning names its variable; a ratio sampler's
        /// probability is the argument when it is a ratio in [0, 1], else
        /// 1.0 with a warning.
        #[test]
        fn any_values_give_a_sampler_or_a_named_warning(
            name in prop_oneof![
                proptest::string::string_regex(
                    "(?i)(parentbased_)?(always_on|always_off|traceidratio|jaeger_remote)|xray"
                )
                .unwrap(),
                any::<String>(),
            ],
            arg in proptest::option::of(prop_oneof![
                (0.0f64..=1.0).prop_map(|p| p.to_string()),
                any::<String>(),
            ]),
        ) {
            let (got, w) = from_vars(Some(name.as_str()), arg.as_deref());
            prop_assert_eq!(got.is_some(), !name.trim().is_empty());
            if let Some(w) = &w {
                prop_assert!(w.contains(TRACES_SAMPLER_ENV) || w.contains(TRACES_SAMPLER_ARG_ENV), "{}", w);
            }
            let lower = name.trim().to_ascii_lowercase();
            let ratio = lower == "traceidratio" || lower == "parentbased_traceidratio";
            if ratio {
                let want = match arg.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
                    None => Some(1.0),
                    Some(a) => a.parse::<f64>().ok().filter(|p| (0.0..=1.0).contains(p)),
                };
                let p = match got.as_ref().unwrap() {
                    Sampler::Probability(p) => *p,
                    Sampler::ParentBased(d) => match &d.root {
                        Sampler::Probability(p) => *p,
                        other => return Err(TestCaseError::fail(format!("{other:?}"))),
                    },
                    other => return Err(TestCaseError::fail(format!("{other:?}"))),
                };
                prop_assert_eq!(p, want.unwrap_or(1.0));
                prop_assert_eq!(w.is_some(), want.is_none());
            }
        }
    }

    #[test]
    fn the_argument_is_read_only_with_a_ratio_sampler() {
        let (got, w) = from_vars(Some("always_on"), Some("nonsense"));
        assert_eq!(got, Some(Sampler::AlwaysOn));
        assert_eq!(w, None);
        assert_eq!(from_vars(None, Some("0.5")), (None, None));
        assert_eq!(from_vars(Some("  "), None), (None, None));
    }
}
