//! "Did you mean …?": the nearest known name to a misspelt one, by edit distance.

/// The Levenshtein distance between `a` and `b`, counted in chars.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The candidate nearest to `name`, if one is close enough to be what the user meant: within a
/// third of the name's length, and at least two edits for names of four chars or more (a
/// swapped pair of letters is two edits). A candidate that differs only in case always counts.
pub(crate) fn nearest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let len = name.chars().count();
    let limit = if len >= 4 { (len / 3).max(2) } else { 1 };
    candidates
        .into_iter()
        .filter(|candidate| *candidate != name)
        .map(|candidate| {
            let distance = if candidate.eq_ignore_ascii_case(name) {
                0
            } else {
                edit_distance(name, candidate)
            };
            (distance, candidate)
        })
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// `"; did you mean `x`?"` when a near name exists, else the empty string.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    match nearest(name, candidates) {
        Some(candidate) => format!("; did you mean `{candidate}`?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("serch", "search"), 1);
        assert_eq!(edit_distance("apend", "append"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn nearest_picks_the_closest_name_within_reach() {
        let names = ["search", "synthesize", "review"];
        assert_eq!(nearest("serch", names), Some("search"));
        assert_eq!(nearest("reviw", names), Some("review"));
        assert_eq!(nearest("Search", names), Some("search"));
        assert_eq!(nearest("Retyr", ["Pass", "Revise", "Retry"]), Some("Retry"));
        assert_eq!(nearest("publish", names), None);
        assert_eq!(nearest("search", names), None);
    }
}
