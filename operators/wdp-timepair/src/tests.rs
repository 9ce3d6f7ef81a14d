//! The waiting queries of a [`Pairer`]; the buffer's own edge cases are in `cases.json`
//! (tests/cases.rs).

use super::*;

fn answered(
    p: &mut Pairer<&'static str, &'static str>,
) -> Vec<(&'static str, Option<&'static str>)> {
    let mut out = Vec::new();
    while let Some(a) = p.pop() {
        out.push((a.query, a.item.map(|(_, v)| *v)));
    }
    out
}

#[test]
fn a_query_waits_until_an_item_at_or_after_it_shows_the_newest_before_it() {
    let mut p = Pairer::new(
        Config::new(Policy::NewestAtOrBefore { max_lag_ns: 100 }),
        1000,
    );
    p.push_query(5, "early");
    assert!(answered(&mut p).is_empty(), "nothing held: undecided");
    p.push_item(10, "w10");
    assert_eq!(
        answered(&mut p),
        [("early", None)],
        "nothing at or before 5"
    );
    p.push_query(20, "f20");
    assert!(
        answered(&mut p).is_empty(),
        "an item between 10 and 20 may come"
    );
    p.push_item(15, "w15");
    p.push_item(20, "w20");
    assert_eq!(answered(&mut p), [("f20", Some("w20"))], "equal time pairs");
    p.push_query(25, "f25");
    p.push_query(26, "f26");
    p.push_item(30, "w30");
    assert_eq!(
        answered(&mut p),
        [("f25", Some("w20")), ("f26", Some("w20"))],
        "an item serves several queries"
    );
    assert_eq!(
        p.items().len(),
        2,
        "w20 (still the newest before 30) and w30"
    );
    let s = p.items().stats();
    assert_eq!((s.pushed, s.paired, s.unpaired), (4, 3, 1));
}

#[test]
fn a_nearest_query_waits_for_an_item_beyond_its_lag() {
    let mut p = Pairer::new(Config::new(Policy::Nearest { max_lag_ns: 20 }), 1000);
    p.push_query(100, "s100");
    p.push_item(95, "a");
    p.push_item(104, "b");
    assert!(answered(&mut p).is_empty(), "a nearer one may still come");
    p.push_item(120, "c");
    assert!(
        answered(&mut p).is_empty(),
        "exactly at the lag: one at 120 may still come"
    );
    p.push_item(121, "d");
    assert_eq!(answered(&mut p), [("s100", Some("b"))]);
}

#[test]
fn queries_stop_waiting_when_the_items_stall_or_end() {
    let mut p = Pairer::new(
        Config::new(Policy::NewestAtOrBefore { max_lag_ns: 50 }),
        100,
    );
    p.push_item(0, "w0");
    p.push_query(10, "q10");
    p.push_query(110, "q110");
    assert!(
        answered(&mut p).is_empty(),
        "100 newer: still within the wait"
    );
    p.push_query(111, "q111");
    assert_eq!(
        answered(&mut p),
        [("q10", Some("w0"))],
        "111 - 10 > 100: decided with what is held; q110 still waits"
    );
    assert_eq!(p.waiting(), 2);
    p.end_items();
    assert_eq!(
        answered(&mut p),
        [("q110", None), ("q111", None)],
        "ended: decided, w0 too old"
    );
    assert!(p.pop().is_none());
    assert_eq!(p.items().stats().unpaired, 2);
}

#[test]
fn a_restarted_item_stream_pairs_on_its_new_clock() {
    let mut p = Pairer::new(
        Config::new(Policy::NewestAtOrBefore { max_lag_ns: 50 }),
        1000,
    );
    p.push_item(5_000, "old");
    p.push_item(10, "new10");
    p.push_query(20, "q");
    p.push_item(30, "new30");
    assert_eq!(answered(&mut p), [("q", Some("new10"))]);
    assert_eq!(p.items().stats().resets, 1);
}
