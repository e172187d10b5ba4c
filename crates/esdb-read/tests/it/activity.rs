//! The original ESDB README example prints what its README says.
//!
//! One documented difference: customer 1 has two events at 1403534923, added purchase first, then
//! the thank-you page. ESDB orders ties by insertion, so a newest-first scan yields the exact
//! reverse: the thank-you page first. The original Go output lists the purchase first.

#[path = "../../examples/activity.rs"]
mod example;

const EXPECTED: &str = r#"activity for 1:
{"url":"http://mysite.com/thankyou"}
{"total":"42.99"}
{"url":"http://mysite.com/checkout"}
{"button_text":"Checkout"}
{"url":"http://mysite.com/"}

activity for 2:
{"url":"http://mysite.com/about"}
{"button_text":"About"}
{"url":"http://mysite.com/"}

purchases for 1:
{"total":"42.99"}

clicks for 3:
{"button_text":"Checkout"}
{"button_text":"About"}
"#;

#[test]
fn prints_the_readme_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("activity.esdb");
    example::write_activity(&path).unwrap();
    let mut out = Vec::new();
    example::print_activity(&path, &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), EXPECTED);
}
