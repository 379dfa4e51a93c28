use datafusion::prelude::*;
use datafusion::scalar::ScalarValue;

#[tokio::test]
async fn scratch() {
    let ctx = SessionContext::new();
    let sqls = [
        "WITH RECURSIVE days(day) AS (SELECT CAST($month_start AS DATE) UNION ALL SELECT CAST(day + INTERVAL '1 day' AS DATE) FROM days WHERE day + INTERVAL '1 day' < $month_start + INTERVAL '1 month') SELECT day FROM days ORDER BY day",
        "SELECT CAST(CAST($month_start AS DATE) + INTERVAL '27 day' AS VARCHAR) AS x, to_char($month_start - INTERVAL '1 month', '%Y-%m') AS prev, CAST($month_start AS DATE) - INTERVAL '1 month' AS pd",
    ];
    for sql in sqls {
        let df = ctx.sql(sql).await;
        let df = match df {
            Ok(df) => df,
            Err(e) => {
                println!("PLAN ERR {sql}: {e}");
                continue;
            }
        };
        let df = df.with_param_values(vec![
            ("first_day", ScalarValue::Date32(Some(20485))),
            ("last_day", ScalarValue::Date32(Some(20512))),
            ("n", ScalarValue::Int64(Some(2))),
            (
                "month_start",
                ScalarValue::TimestampMillisecond(Some(1769904000000), Some("UTC".into())),
            ),
        ]);
        match df {
            Ok(df) => match df.collect().await {
                Ok(b) => println!(
                    "{}",
                    datafusion::arrow::util::pretty::pretty_format_batches(&b).unwrap()
                ),
                Err(e) => println!("EXEC ERR {sql}: {e}"),
            },
            Err(e) => println!("PARAM ERR {sql}: {e}"),
        }
    }
}
