//! Tests of `ddl`'s backend-neutral part; the DDL each dialect gets is tested in
//! `connect::ddl_tests`.

use super::{Catalog, ForeignKeyDef, TableDef, load_order};

fn table(name: &str) -> TableDef {
    TableDef::named(Some("shop".into()), name.into(), 0)
}

#[test]
fn load_order_puts_parents_first_and_breaks_cycles() {
    let fk = |to: &str| ForeignKeyDef {
        name: None,
        columns: vec!["x".into()],
        ref_schema: Some("shop".into()),
        ref_table: to.into(),
        ref_columns: vec!["id".into()],
        on_delete: "NO ACTION".into(),
        on_update: "NO ACTION".into(),
    };
    let mut a = table("a");
    a.foreign_keys = vec![fk("c"), fk("a")];
    let b = table("b");
    let mut c = table("c");
    c.foreign_keys = vec![fk("b")];
    assert_eq!(load_order(&Catalog { tables: vec![a.clone(), b.clone(), c.clone()], source: None }), vec![1, 2, 0]);
    // b → c → b: a cycle; the lowest index among the stuck tables goes first.
    let mut b2 = b;
    b2.foreign_keys = vec![fk("c")];
    assert_eq!(load_order(&Catalog { tables: vec![a, b2, c], source: None }), vec![1, 2, 0]);
}
