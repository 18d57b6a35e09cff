//! Samplers: the schema's samplers mapped to the engine's
//! ([`crate::sampler::Sampler`]).
//!
//! | file | engine |
//! | --- | --- |
//! | `always_on`, `always_off` | `AlwaysOn`, `AlwaysOff` |
//! | `trace_id_ratio_based`, `probability/development` | `Probability` (consistent: `th`) |
//! | `parent_based` (five delegates) | `ParentBased` |
//! | `composite/development`: `always_on` | `Probability(1.0)` (threshold 0, `th:0`) |
//! | `composite/development`: `always_off`, `probability`, `parent_threshold` | `AlwaysOff`, `Probability`, `ParentThreshold` |
//! | `composite/development`: `rule_based` | `Rules` (one engine rule per listed value) |
//! | `always_record` | its `root` (warning: no record-only spans) |
//! | `jaeger_remote/development`, custom samplers | skipped: the default applies |

use super::read::{Ctx, R, index, join, obj, one_of, opt_ratio, opt_str_list, opt_string, seq};
use super::yaml::Node;
use crate::sampler::{Rule, Sampler};

/// A sampler, mapped to the engine's; `None` when it cannot be (skipped:
/// the caller's default applies).
pub(crate) fn sampler(ctx: &mut Ctx, node: &Node, path: &str) -> R<Option<Sampler>> {
    if node.is_null() {
        return Ok(None);
    }
    let (k, v) = one_of(ctx, node, path)?;
    let kp = join(path, &k.name);
    let s = match k.name.as_str() {
        "always_on" => {
            obj(ctx, v, &kp)?.finish(ctx, &[])?;
            Sampler::AlwaysOn
        }
        "always_off" => {
            obj(ctx, v, &kp)?.finish(ctx, &[])?;
            Sampler::AlwaysOff
        }
        "trace_id_ratio_based" | "probability/development" => {
            let mut o = obj(ctx, v, &kp)?;
            let ratio = opt_ratio(ctx, o.get("ratio"), &o.at("ratio"))?.unwrap_or(1.0);
            o.finish(ctx, &[])?;
            Sampler::probability(ratio)
        }
        "parent_based" => {
            let mut o = obj(ctx, v, &kp)?;
            let mut d = crate::sampler::ParentBased::new(Sampler::AlwaysOn);
            let slots: [(&'static str, &mut Sampler); 5] = [
                ("root", &mut d.root),
                ("remote_parent_sampled", &mut d.remote_sampled),
                ("remote_parent_not_sampled", &mut d.remote_not_sampled),
                ("local_parent_sampled", &mut d.local_sampled),
                ("local_parent_not_sampled", &mut d.local_not_sampled),
            ];
            for (key, slot) in slots {
                if let Some(n) = o.get(key)
                    && let Some(s) = sampler(ctx, n, &o.at(key))?
                {
                    *slot = s;
                }
            }
            o.finish(ctx, &[])?;
            Sampler::parent_based_with(d)
        }
        "composite/development" => match composable(ctx, v, &kp)? {
            Some(s) => s,
            None => return Ok(None),
        },
        "always_record" => {
            let mut o = obj(ctx, v, &kp)?;
            let root = o.required(ctx, "root")?;
            let inner = sampler(ctx, root, &o.at("root"))?;
            o.finish(ctx, &[])?;
            ctx.warn(
                k.pos,
                &kp,
                "the engine has no record-only spans: the wrapped sampler decides alone",
            );
            return Ok(inner);
        }
        _ => {
            ctx.skip(
                k.pos,
                kp,
                "sampler not implemented by datapunk-log (the default applies)",
            );
            return Ok(None);
        }
    };
    Ok(Some(s))
}

/// A composable sampler (`composite/development`).
fn composable(ctx: &mut Ctx, node: &Node, path: &str) -> R<Option<Sampler>> {
    let (k, v) = one_of(ctx, node, path)?;
    let kp = join(path, &k.name);
    let s = match k.name.as_str() {
        // ComposableAlwaysOn has threshold 0: `th:0`, i.e. probability 1.
        "always_on" => {
            obj(ctx, v, &kp)?.finish(ctx, &[])?;
            Sampler::probability(1.0)
        }
        "always_off" => {
            obj(ctx, v, &kp)?.finish(ctx, &[])?;
            Sampler::AlwaysOff
        }
        "probability" => {
            let mut o = obj(ctx, v, &kp)?;
            let ratio = opt_ratio(ctx, o.get("ratio"), &o.at("ratio"))?.unwrap_or(1.0);
            o.finish(ctx, &[])?;
            Sampler::probability(ratio)
        }
        "parent_threshold" => {
            let mut o = obj(ctx, v, &kp)?;
            let root = o.required(ctx, "root")?;
            let root = composable(ctx, root, &o.at("root"))?;
            o.finish(ctx, &[])?;
            match root {
                Some(r) => Sampler::parent_threshold(r),
                None => return Ok(None),
            }
        }
        "rule_based" => rule_based(ctx, v, &kp)?,
        _ => {
            ctx.skip(
                k.pos,
                kp,
                "composable sampler not implemented by datapunk-log (the default applies)",
            );
            return Ok(None);
        }
    };
    Ok(Some(s))
}

fn has_wildcard(p: &str) -> bool {
    p.contains(['*', '?'])
}

/// `rule_based`: each rule becomes one engine rule per alternative value
/// (first match wins, so the order is kept). A rule with a predicate the
/// engine's rules cannot express (`span_kinds`, `parent`, `excluded`
/// patterns, wildcards other than a lone `*`) is left out with a warning.
fn rule_based(ctx: &mut Ctx, node: &Node, path: &str) -> R<Sampler> {
    let mut o = obj(ctx, node, path)?;
    let rp = o.at("rules");
    let mut rules = Vec::new();
    for (i, item) in seq(ctx, o.get("rules"), &rp)?.iter().enumerate() {
        let p = index(&rp, i);
        let mut r = obj(ctx, item, &p)?;
        let mut unsupported: Vec<&str> = Vec::new();
        // Alternatives: each a list of (key, Some(value) = equals, None = present).
        let mut alts: Vec<Vec<(String, Option<String>)>> = vec![Vec::new()];
        if let Some(n) = r.get("attribute_values") {
            let ap = r.at("attribute_values");
            let mut av = obj(ctx, n, &ap)?;
            let key_node = av.required(ctx, "key")?;
            let key = opt_string(ctx, Some(key_node), &av.at("key"))?.unwrap_or_default();
            let values = opt_str_list(ctx, av.get("values"), &av.at("values"))?.unwrap_or_default();
            av.finish(ctx, &[])?;
            if values.is_empty() {
                return Err(ctx.err(n.pos, &ap, "values: at least one value is required"));
            }
            alts = cross(&alts, &key, values.into_iter().map(Some).collect());
        }
        if let Some(n) = r.get("attribute_patterns") {
            let ap = r.at("attribute_patterns");
            let mut pat = obj(ctx, n, &ap)?;
            let key_node = pat.required(ctx, "key")?;
            let key = opt_string(ctx, Some(key_node), &pat.at("key"))?.unwrap_or_default();
            let included = opt_str_list(ctx, pat.get("included"), &pat.at("included"))?;
            let excluded = opt_str_list(ctx, pat.get("excluded"), &pat.at("excluded"))?;
            pat.finish(ctx, &[])?;
            if excluded.is_some() {
                unsupported.push("attribute_patterns.excluded");
            }
            let included = included.unwrap_or_else(|| vec!["*".to_owned()]);
            if included.iter().any(|p| has_wildcard(p) && p != "*") {
                unsupported.push("wildcard patterns");
            }
            let choices = included
                .into_iter()
                .map(|p| if p == "*" { None } else { Some(p) })
                .collect();
            alts = cross(&alts, &key, choices);
        }
        if alts.is_empty() {
            return Err(ctx.err(
                item.pos,
                &p,
                format!("more than {MAX_ALTERNATIVES} value combinations in one rule"),
            ));
        }
        for key in ["span_kinds", "parent"] {
            if let Some(n) = r.get(key) {
                opt_str_list(ctx, Some(n), &r.at(key))?;
                unsupported.push(key);
            }
        }
        let sn = r.required(ctx, "sampler")?;
        let s = composable(ctx, sn, &r.at("sampler"))?;
        r.finish(ctx, &[])?;
        let Some(s) = s else {
            ctx.skip(item.pos, p, "rule left out: its sampler is not implemented");
            continue;
        };
        if !unsupported.is_empty() {
            ctx.skip(
                item.pos,
                p,
                format!(
                    "rule left out: the engine's rules cannot match {}",
                    unsupported.join(", ")
                ),
            );
            continue;
        }
        for alt in alts {
            let mut rule = Rule::new(s.clone());
            for (key, value) in alt {
                rule = match value {
                    Some(v) => rule.attribute_eq(&key, &v),
                    None => rule.attribute_present(&key),
                };
            }
            rules.push(rule);
        }
    }
    o.finish(ctx, &[])?;
    Ok(Sampler::rules(rules))
}

/// Most engine rules one file rule may expand to.
const MAX_ALTERNATIVES: usize = 256;

/// Every alternative extended by each choice for `key`.
fn cross(
    alts: &[Vec<(String, Option<String>)>],
    key: &str,
    choices: Vec<Option<String>>,
) -> Vec<Vec<(String, Option<String>)>> {
    if alts.len().saturating_mul(choices.len()) > MAX_ALTERNATIVES {
        // Empty: the caller reports it.
        return Vec::new();
    }
    let mut out = Vec::with_capacity(alts.len() * choices.len());
    for a in alts {
        for c in &choices {
            let mut a = a.clone();
            a.push((key.to_owned(), c.clone()));
            out.push(a);
        }
    }
    out
}
