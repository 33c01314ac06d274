//! Demo data for a first look at the CRM and for the benchmarks: a small sales organisation
//! with departments, a manager and salespeople, and any number of realistic Chinese and English
//! customers with contacts and follow-ups. (`cargo xtask run` starts with it.)

use crate::error::Result;
use crate::org::{departments, roles, users};
use crate::store::Id;
use crate::web::AppState;

/// Adds the demo departments and users to an organisation; every demo user gets `password`.
pub async fn seed_people(state: &AppState, org_id: Id, password: &str) -> Result<()> {
    let store = &state.store;
    let all_roles = roles::list(store, org_id).await?;
    let role = |name: &str| all_roles.iter().find(|r| r.name == name).map(|r| r.id);
    let dept = |name: &str, parent: Option<Id>| departments::NewDepartment {
        name: name.into(),
        parent_id: parent,
        head_user_id: None,
    };
    let sales = departments::create(store, org_id, None, None, &dept("销售部 Sales", None)).await?;
    let east = departments::create(store, org_id, None, None, &dept("华东区 East", Some(sales.id))).await?;
    let north = departments::create(store, org_id, None, None, &dept("华北区 North", Some(sales.id))).await?;
    let person = |username: &str, name: &str, dept: Id, manager: Option<Id>, role_id: Option<Id>| users::NewUser {
        username: username.into(),
        display_name: name.into(),
        password: password.into(),
        email: Some(format!("{username}@demo.tessera.example")),
        phone: None,
        department_id: Some(dept),
        manager_id: manager,
        locale: Some("zh-CN".into()),
        role_ids: role_id.into_iter().collect(),
    };
    let manager =
        users::create(state, org_id, None, None, &person("wang.fang", "王芳", sales.id, None, role("Sales manager")))
            .await?;
    for (username, name, d) in
        [("zhang.wei", "张伟", east.id), ("li.na", "李娜", east.id), ("liu.yang", "刘洋", north.id)]
    {
        users::create(state, org_id, None, None, &person(username, name, d, Some(manager.id), role("Salesperson")))
            .await?;
    }
    for d in [sales.id, east.id, north.id] {
        let patch = departments::DepartmentPatch { head_user_id: Some(Some(manager.id)), ..Default::default() };
        departments::update(store, org_id, None, None, d, &patch).await?;
    }
    Ok(())
}

/// Adds `count` demo customers, each with one to five contacts (three on average) and up to ten
/// follow-ups over the past year (five on average), owned by the organisation's active users.
/// The same `seed` gives the same data. Rows are bulk-inserted in batches, one transaction per
/// batch, with codes taken from the organisation's pattern; this is what loads the millions of
/// rows the benchmarks run on.
pub async fn seed_customers(state: &AppState, org_id: Id, count: usize, seed: u64) -> Result<usize> {
    use rand::{Rng, SeedableRng};

    use crate::store::{SqlArg, bulk_insert};
    let store = &state.store;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let owners: Vec<(Id, Option<Id>)> =
        sqlx::query_as("SELECT id, department_id FROM users WHERE org_id = $1 AND active = 1 ORDER BY id")
            .bind(org_id)
            .fetch_all(store.pool())
            .await?;
    let lists = crate::customers::options::list(store, org_id, None).await?;
    let values = |list: &str| -> Vec<String> {
        lists.iter().filter(|o| o.list == list && o.active).map(|o| o.value.clone()).collect()
    };
    let option_lists =
        [values("category"), values("level"), values("status"), values("industry"), values("region"), values("source")];
    let (pattern, time_zone) = crate::customers::codes::org_pattern(store.pool(), org_id).await?;
    let now = crate::store::now_ms();
    let year_ms: i64 = 365 * 86_400_000;
    let phone_row = |customer: Id, contact: Option<Id>, label: &str, number: String| -> Result<Vec<SqlArg>> {
        let p = crate::customers::phone::normalize(&number, None).map_err(|e| crate::Error::Internal(e.to_string()))?;
        Ok(vec![
            org_id.into(),
            customer.into(),
            contact.into(),
            label.into(),
            number.into(),
            p.canonical.clone().into(),
            crate::customers::phone::suffix_key(&p).into(),
            crate::customers::reversed_digits(&p.canonical).into(),
        ])
    };
    let mut made = 0;
    while made < count {
        let batch = (count - made).min(2_000);
        let mut tx = store.begin_write().await?;
        let codes = crate::customers::codes::take_codes(&mut tx, org_id, &pattern, &time_zone, batch as i64).await?;
        let customer_ids = store.reserve_ids(&mut tx, "customers", batch).await?;
        let contact_counts: Vec<usize> = (0..batch).map(|_| rng.random_range(1..=5)).collect();
        let contact_ids = store.reserve_ids(&mut tx, "contacts", contact_counts.iter().sum()).await?;
        let mut contact_ids = contact_ids.into_iter();
        let (mut customers, mut contacts, mut phones, mut activities) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for ((code, customer_id), n_contacts) in codes.into_iter().zip(customer_ids).zip(contact_counts) {
            let (city, area) = CITIES[rng.random_range(0..CITIES.len())];
            let name = if rng.random_range(0..10) == 0 {
                format!(
                    "{} {} {}",
                    EN_WORDS[rng.random_range(0..EN_WORDS.len())],
                    EN_TRADES[rng.random_range(0..EN_TRADES.len())],
                    EN_SUFFIXES[rng.random_range(0..EN_SUFFIXES.len())]
                )
            } else {
                format!(
                    "{city}{}{}{}",
                    BRANDS[rng.random_range(0..BRANDS.len())],
                    TRADES[rng.random_range(0..TRADES.len())],
                    SUFFIXES[rng.random_range(0..SUFFIXES.len())]
                )
            };
            let (owner, department) =
                owners.get(rng.random_range(0..owners.len().max(1))).copied().unwrap_or((0, None));
            let owner = (owner > 0).then_some(owner);
            let created = now - rng.random_range(0..year_ms);
            // Follow-ups first, so the customer row carries its last and next dates.
            let (mut last, mut next) = (None, None);
            for _ in 0..rng.random_range(0..=10) {
                let at = created + rng.random_range(0..(now - created).max(1));
                let follow = (rng.random_range(0..3) == 0).then(|| at + rng.random_range(1..30i64) * 86_400_000);
                activities.push(vec![
                    org_id.into(),
                    customer_id.into(),
                    ["call", "visit", "email", "meeting", "note"][rng.random_range(0..5)].into(),
                    SUBJECTS[rng.random_range(0..SUBJECTS.len())].into(),
                    RESULTS[rng.random_range(0..RESULTS.len())].into(),
                    at.into(),
                    follow.into(),
                    owner.into(),
                    at.into(),
                ]);
                if last.is_none_or(|l| at > l) {
                    last = Some(at);
                    next = follow;
                }
            }
            let mut row: Vec<SqlArg> =
                vec![customer_id.into(), org_id.into(), code.clone().into(), name.clone().into(), "company".into()];
            for list in &option_lists {
                row.push((!list.is_empty()).then(|| list[rng.random_range(0..list.len())].clone()).into());
            }
            row.extend([
                SqlArg::from(format!(
                    "{city}市{}路{}号",
                    ROADS[rng.random_range(0..ROADS.len())],
                    rng.random_range(1..999)
                )),
                (if rng.random_range(0..4) == 0 { "重点" } else { "" }).into(),
                owner.into(),
                department.into(),
                crate::customers::names::company_key(&name).into(),
                format!("{} {}", crate::customers::names::search_text(&name), code.to_lowercase()).into(),
                (rng.random_range(0..100i64) * 100_000).into(),
                last.into(),
                next.into(),
                created.into(),
                created.into(),
                1i64.into(),
            ]);
            customers.push(row);
            phones.push(phone_row(
                customer_id,
                None,
                "总机",
                format!("0{area}-{}", rng.random_range(20_000_000..89_999_999)),
            )?);
            for c in 0..n_contacts {
                let contact_id =
                    contact_ids.next().ok_or_else(|| crate::Error::Internal("ran out of contact ids".into()))?;
                let person = format!(
                    "{}{}",
                    SURNAMES[rng.random_range(0..SURNAMES.len())],
                    GIVEN[rng.random_range(0..GIVEN.len())]
                );
                contacts.push(vec![
                    contact_id.into(),
                    org_id.into(),
                    customer_id.into(),
                    person.clone().into(),
                    TITLES[rng.random_range(0..TITLES.len())].into(),
                    format!(
                        "{}-{:02}-{:02}",
                        rng.random_range(1965..2000),
                        rng.random_range(1..=12),
                        rng.random_range(1..=28)
                    )
                    .into(),
                    (if c == 0 { "decision_maker" } else { "influencer" }).into(),
                    "".into(),
                    crate::customers::names::search_text(&person).into(),
                    created.into(),
                    created.into(),
                ]);
                let mobile =
                    format!("1{}{:09}", [3, 5, 7, 8, 9][rng.random_range(0..5)], rng.random_range(0..1_000_000_000u64));
                phones.push(phone_row(customer_id, Some(contact_id), "手机", mobile)?);
            }
        }
        bulk_insert(
            &mut tx,
            "customers",
            &[
                "id",
                "org_id",
                "code",
                "name",
                "kind",
                "category",
                "level",
                "status",
                "industry",
                "region",
                "source",
                "address",
                "tags",
                "owner_id",
                "department_id",
                "name_key",
                "search_text",
                "credit_limit",
                "last_followed_up_at",
                "next_follow_up_at",
                "created_at",
                "updated_at",
                "version",
            ],
            customers,
        )
        .await?;
        bulk_insert(
            &mut tx,
            "contacts",
            &[
                "id",
                "org_id",
                "customer_id",
                "name",
                "title",
                "birthday",
                "decision_role",
                "notes",
                "search_text",
                "created_at",
                "updated_at",
            ],
            contacts,
        )
        .await?;
        bulk_insert(
            &mut tx,
            "phones",
            &["org_id", "customer_id", "contact_id", "label", "raw", "canonical", "suffix", "digits_rev"],
            phones,
        )
        .await?;
        bulk_insert(
            &mut tx,
            "activities",
            &[
                "org_id",
                "customer_id",
                "kind",
                "subject",
                "result",
                "occurred_at",
                "next_follow_up_at",
                "owner_id",
                "created_at",
            ],
            activities,
        )
        .await?;
        tx.commit().await?;
        made += batch;
    }
    Ok(made)
}

const CITIES: &[(&str, &str)] = &[
    ("北京", "10"),
    ("上海", "21"),
    ("广州", "20"),
    ("深圳", "755"),
    ("杭州", "571"),
    ("南京", "25"),
    ("成都", "28"),
    ("武汉", "27"),
    ("重庆", "23"),
    ("西安", "29"),
    ("苏州", "512"),
    ("天津", "22"),
    ("长沙", "731"),
    ("郑州", "371"),
    ("青岛", "532"),
    ("厦门", "592"),
];
const BRANDS: &[&str] = &[
    "华信",
    "中科",
    "恒达",
    "金源",
    "宏图",
    "东方",
    "新世纪",
    "长城",
    "天润",
    "瑞丰",
    "博远",
    "安泰",
    "鼎盛",
    "银河",
    "海纳",
    "永盛",
];
const TRADES: &[&str] = &[
    "科技",
    "贸易",
    "电子",
    "机械",
    "化工",
    "物流",
    "建材",
    "食品",
    "医疗器械",
    "软件",
    "纺织",
    "汽车配件",
    "环保",
    "印刷",
];
const SUFFIXES: &[&str] = &["有限公司", "股份有限公司", "有限责任公司", "集团有限公司", "实业有限公司"];
const EN_WORDS: &[&str] =
    &["Acme", "Pacific", "Golden", "Northstar", "Bluewave", "Summit", "Evergreen", "Orient", "Harbor", "Silverline"];
const EN_TRADES: &[&str] = &["Trading", "Electronics", "Logistics", "Machinery", "Foods", "Software", "Textiles"];
const EN_SUFFIXES: &[&str] = &["Co., Ltd.", "Limited", "Inc.", "Group"];
const ROADS: &[&str] = &["人民", "解放", "中山", "建设", "长江", "和平", "友谊", "滨江", "科技", "世纪"];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "高",
    "罗",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀英", "建国",
    "海燕", "志强",
];
const TITLES: &[&str] = &["总经理", "采购经理", "财务总监", "技术总监", "行政主管", "销售经理", "董事长", "项目经理"];
const SUBJECTS: &[&str] =
    &["首次拜访", "电话沟通需求", "发送报价", "技术交流", "合同洽谈", "回访", "节日问候", "产品演示"];
const RESULTS: &[&str] = &["有意向", "需进一步沟通", "已报价", "暂无需求", "约定下次拜访", "已签约", ""];
