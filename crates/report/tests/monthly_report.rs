use datafusion::prelude::*;
use datafusion::scalar::ScalarValue;

#[tokio::test]
async fn scratch() {
    let ctx = SessionContext::new();
    let sqls = [
        "WITH RECURSIVE days(day) AS (SELECT $first_day UNION ALL SELECT CAST(day + INTERVAL '1 day' AS DATE) FROM days WHERE day < $last_day) SELECT day FROM days",
        "SELECT CAST($month_start + n * INTERVAL '1 day' AS DATE) AS day FROM (VALUES (0),(1),(2)) o(n) WHERE $month_start + n * INTERVAL '1 day' < $month_start + INTERVAL '1 month'",
        "SELECT date_bin(INTERVAL '1 day', $month_start) AS d, $month_start + INTERVAL '1 month' AS e",
        "SELECT * FROM (VALUES (1),(2)) t(x) WHERE x < $n",
        "SELECT CAST($month_start AS TIMESTAMP) < CAST('2026-02-02T00:00:00Z' AS TIMESTAMP) AS ok",
        "SELECT $month_start AS m",
    ];
    for sql in sqls {
        let df = ctx.sql(sql).await;
        let df = match df { Ok(df) => df, Err(e) => { println!("PLAN ERR {sql}: {e}"); continue; } };
        let df = df.with_param_values(vec![
            ("first_day", ScalarValue::Date32(Some(20485))),
            ("last_day", ScalarValue::Date32(Some(20512))),
            ("n", ScalarValue::Int64(Some(2))),
            ("month_start", ScalarValue::TimestampMillisecond(Some(1769904000000), Some("UTC".into()))),
        ]);
        match df { Ok(df) => match df.collect().await { Ok(b) => println!("{}", datafusion::arrow::util::pretty::pretty_format_batches(&b).unwrap()), Err(e)=> println!("EXEC ERR {sql}: {e}") }, Err(e) => println!("PARAM ERR {sql}: {e}") }
    }
}
