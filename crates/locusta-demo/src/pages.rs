//! Static HTML pages of the demo shop. Kept small on purpose: `GET /` is the hot path of the
//! README's first load test and of the throughput benchmarks.

/// `GET /`: the shop's home page.
pub(crate) const HOME: &str = "<!doctype html>
<html><head><meta charset=\"utf-8\"><title>Locusta Demo Shop</title></head>
<body><h1>Locusta Demo Shop</h1>
<p>A tiny shop served by locusta's built-in demo target.</p>
<ul><li><a href=\"/products/\">Products</a></li><li><a href=\"/about/\">About</a></li>
<li><a href=\"/login\">Log in</a></li></ul>
</body></html>
";

/// `GET /about/`.
pub(crate) const ABOUT: &str = "<!doctype html>
<html><head><meta charset=\"utf-8\"><title>About - Locusta Demo Shop</title></head>
<body><h1>About</h1>
<p>This shop exists so that load tests have something real to hit. Its checkout endpoint
serialises on a global inventory lock, so it slows down as more users check out at once.</p>
<p><a href=\"/\">Home</a></p>
</body></html>
";

/// `GET /products/`.
pub(crate) const PRODUCTS: &str = "<!doctype html>
<html><head><meta charset=\"utf-8\"><title>Products - Locusta Demo Shop</title></head>
<body><h1>Products</h1>
<ul>
<li><a href=\"/api/products/1\">Compact Backpack 1</a></li>
<li><a href=\"/api/products/2\">Deluxe Backpack 2</a></li>
<li><a href=\"/api/products/3\">Eco Backpack 3</a></li>
</ul>
<p>The full catalogue (1000 products) is at <a href=\"/api/products?page=1&amp;limit=20\">/api/products</a>.</p>
<p><a href=\"/\">Home</a></p>
</body></html>
";

/// `GET /login`: a form that posts back to `/login`.
pub(crate) const LOGIN_FORM: &str = "<!doctype html>
<html><head><meta charset=\"utf-8\"><title>Log in - Locusta Demo Shop</title></head>
<body><h1>Log in</h1>
<form method=\"post\" action=\"/login\">
<input name=\"username\"> <input name=\"password\" type=\"password\"> <button>Log in</button>
</form>
</body></html>
";

/// `GET /admin/dashboard`.
pub(crate) const ADMIN_DASHBOARD: &str = "<!doctype html>
<html><head><meta charset=\"utf-8\"><title>Admin - Locusta Demo Shop</title></head>
<body><h1>Admin dashboard</h1>
<table><tr><th>Metric</th><th>Value</th></tr>
<tr><td>Products</td><td>1000</td></tr>
<tr><td>Open carts</td><td>n/a</td></tr>
</table>
<form method=\"post\" action=\"/admin/reports/generate\"><button>Generate report</button></form>
</body></html>
";
