//! docs/contracts.md "Posture" lists every posture rule once, with its severity, in the
//! order of `PostureRule::ALL`.

use sessiontrail_posture::PostureRule;

#[test]
fn the_contracts_posture_table_is_the_rules() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/contracts.md");
    let text = std::fs::read_to_string(path).unwrap();
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with("Posture"))
        .expect("docs/contracts.md has a Posture section");
    let rows: Vec<(String, String)> = section
        .lines()
        .skip_while(|line| !line.starts_with("| rule |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            (cells[0].trim_matches('`').to_string(), cells[1].to_string())
        })
        .collect();
    let expected: Vec<(String, String)> = PostureRule::ALL
        .iter()
        .map(|r| (r.as_str().to_string(), r.severity().as_str().to_string()))
        .collect();
    assert_eq!(rows, expected);
    for rule in PostureRule::ALL {
        assert_eq!(PostureRule::parse(rule.as_str()), Some(rule));
        assert!(rule.as_str().starts_with("posture_"));
    }
}
