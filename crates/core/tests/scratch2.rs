use baton_core::expr::Expr;
#[test]
fn s() {
    for src in ["data.items.all(x, x > 0)", "data.items.map(i, i * 2)", "[1,2].exists(v, v == 2)", "data.amount + amount", "'amount' + amount", "has(data.x)", "size(data.items) > 0", "data.items.filter(n, n > 1).size() == 1", "Amount > 1", "x.all(x, x > 0)", "data.l.all(x, x > 0) && x", "'é' + amount", "data.a +\n  amount", "data.a +\n  )", ") + 1", "{'a': foo}", "b + a", "'é' + )", "'éé' +\n 'é' + amount"] {
        println!("{src:?} => {:?}", Expr::compile(src).map(|_| ()));
    }
}
