//! Errors on one line: an error and its sources in, `outer: cause: root cause` out, for log lines and
//! messages that must say why without a backtrace (AWS SDK and HTTP errors nest three or four deep).

/// An error with its sources, on one line; a source whose text the previous one already contains is
/// skipped.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for E {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn sources_are_joined_once() {
        let e = E(
            "dispatch failure",
            Some(Box::new(E("io error", Some(Box::new(E("io error", None)))))),
        );
        assert_eq!(super::chain(&e), "dispatch failure: io error");
    }
}
