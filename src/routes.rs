//! The route table: every route of the application in one place. The server registers it,
//! and the tests read it to check `openapi.yaml` and tenancy coverage against what is
//! actually served. Only this module (and `main.rs`) sees both the API and the dashboard.

use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, FromRequest, Handler, HttpResponse, Responder, Route};

use crate::api::{
    brands, campaign_loop, campaigns, codes, costs, docs, enrollments, exclusions, hooks,
    influencers, links, ops, orders, redirect, reports, webhooks,
};
use crate::dashboard;
use crate::web::problem::problem_response;

/// Every route of the application, in one table: the server registers it, and the tests read
/// it to check `openapi.yaml` and tenancy coverage against what is actually served.
#[derive(Default)]
pub struct RouteTable {
    entries: Vec<(Method, &'static str, Route)>,
}

macro_rules! verb {
    ($name:ident, $method:ident) => {
        pub fn $name<F, Args>(&mut self, path: &'static str, handler: F) -> &mut Self
        where
            F: Handler<Args>,
            Args: FromRequest + 'static,
            F::Output: Responder + 'static,
        {
            self.entries.push((
                Method::$method,
                path,
                web::method(Method::$method).to(handler),
            ));
            self
        }
    };
}

impl RouteTable {
    verb!(get, GET);
    verb!(head, HEAD);
    verb!(post, POST);
    verb!(put, PUT);
    verb!(patch, PATCH);
    verb!(delete, DELETE);

    /// `(method, path template)` of every route.
    pub fn endpoints(&self) -> Vec<(Method, &'static str)> {
        self.entries
            .iter()
            .map(|(m, p, _)| (m.clone(), *p))
            .collect()
    }

    /// Splits off the routes `keep` selects, e.g. the redirect, which is served without the
    /// API's middleware.
    pub fn split(self, keep: impl Fn(&str) -> bool) -> (RouteTable, RouteTable) {
        let (kept, rest) = self.entries.into_iter().partition(|(_, p, _)| keep(p));
        (RouteTable { entries: kept }, RouteTable { entries: rest })
    }

    /// Registers one resource per path, so that a known path with an unknown method is a 405
    /// naming the allowed methods.
    pub fn register(self, cfg: &mut web::ServiceConfig) {
        let mut paths: Vec<&'static str> = Vec::new();
        for (_, p, _) in &self.entries {
            if !paths.contains(p) {
                paths.push(p);
            }
        }
        let mut entries: Vec<Option<(Method, &'static str, Route)>> =
            self.entries.into_iter().map(Some).collect();
        for path in paths {
            let mut resource = web::resource(path);
            let mut allowed = Vec::new();
            for slot in entries.iter_mut() {
                if slot.as_ref().is_some_and(|(_, p, _)| *p == path) {
                    let (method, _, route) = slot.take().expect("checked above");
                    allowed.push(method.to_string());
                    resource = resource.route(route);
                }
            }
            let allow = allowed.join(", ");
            resource = resource.default_service(web::to(move || {
                let allow = allow.clone();
                async move {
                    let mut response = problem_response(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "method-not-allowed",
                        "Method not allowed",
                        format!("this path accepts {allow}"),
                        None,
                    );
                    if let Ok(value) = header::HeaderValue::from_str(&allow) {
                        response.headers_mut().insert(header::ALLOW, value);
                    }
                    response
                }
            }));
            cfg.service(resource);
        }
    }
}

/// The whole route table of the service.
pub fn routes() -> RouteTable {
    let mut t = RouteTable::default();
    t.get("/r/{code}", redirect::follow_link)
        .head("/r/{code}", redirect::follow_link);
    t.get("/healthz", ops::healthz).get("/readyz", ops::readyz);
    t.get("/api/v1/visitor", redirect::visitor);
    t.post("/api/v1/brands", brands::create_brand)
        .get("/api/v1/brands", brands::list_brands)
        .get("/api/v1/brands/{brand_id}", brands::get_brand);
    t.post("/api/v1/brands/{brand_id}/keys", brands::create_key)
        .get("/api/v1/brands/{brand_id}/keys", brands::list_keys)
        .delete("/api/v1/keys/{key_id}", brands::revoke_key);
    t.post("/api/v1/influencers", influencers::create_influencer)
        .get("/api/v1/influencers", influencers::list_influencers)
        .get(
            "/api/v1/influencers/{influencer_id}",
            influencers::get_influencer,
        )
        .patch(
            "/api/v1/influencers/{influencer_id}",
            influencers::update_influencer,
        )
        .delete(
            "/api/v1/influencers/{influencer_id}",
            influencers::delete_influencer,
        );
    t.post("/api/v1/campaigns", campaigns::create_campaign)
        .get("/api/v1/campaigns", campaigns::list_campaigns)
        .get("/api/v1/campaigns/{campaign_id}", campaigns::get_campaign)
        .patch(
            "/api/v1/campaigns/{campaign_id}",
            campaigns::update_campaign,
        );
    let enrollment = "/api/v1/campaigns/{campaign_id}/influencers/{influencer_id}";
    t.post(
        "/api/v1/campaigns/{campaign_id}/influencers",
        enrollments::enroll_influencer,
    )
    .get(
        "/api/v1/campaigns/{campaign_id}/influencers",
        enrollments::list_enrollments,
    )
    .get(enrollment, enrollments::get_enrollment)
    .patch(enrollment, enrollments::update_enrollment)
    .post(
        "/api/v1/campaigns/{campaign_id}/influencers/{influencer_id}/links",
        enrollments::create_link,
    )
    .post(
        "/api/v1/campaigns/{campaign_id}/influencers/{influencer_id}/codes",
        enrollments::create_code,
    );
    t.get("/api/v1/links/{link_id}", links::get_link)
        .patch("/api/v1/links/{link_id}", links::update_link)
        .get("/api/v1/links/{link_id}/stats", links::link_stats)
        .get("/api/v1/links/{link_id}/clicks", links::list_clicks);
    // The lookup is registered before `/codes/{code_id}` so that it is matched first.
    t.get("/api/v1/codes/lookup", codes::lookup_code)
        .get("/api/v1/codes/{code_id}", codes::get_code)
        .patch("/api/v1/codes/{code_id}", codes::update_code)
        .delete("/api/v1/codes/{code_id}", codes::delete_code);
    t.post("/api/v1/orders", orders::create_order)
        .get("/api/v1/orders/{order_id}", orders::get_order)
        .post("/api/v1/orders/{order_id}/refunds", orders::create_refund)
        .post("/api/v1/events", orders::create_event)
        .put("/api/v1/fx-rates", orders::put_rate)
        .get("/api/v1/fx-rates", orders::list_rates);
    // One path per platform: each takes its own settings.
    t.put("/api/v1/integrations/shopify", webhooks::put_shopify)
        .get("/api/v1/integrations/shopify", webhooks::get_shopify)
        .delete("/api/v1/integrations/shopify", webhooks::delete_shopify)
        .put(
            "/api/v1/integrations/woocommerce",
            webhooks::put_woocommerce,
        )
        .get(
            "/api/v1/integrations/woocommerce",
            webhooks::get_woocommerce,
        )
        .delete(
            "/api/v1/integrations/woocommerce",
            webhooks::delete_woocommerce,
        )
        .post(
            "/api/v1/integrations/{platform}/check",
            webhooks::check_integration,
        )
        .get("/api/v1/integrations/{platform}/sync", webhooks::list_sync)
        .post(
            "/api/v1/integrations/{platform}/sync/{job_id}/retry",
            webhooks::retry_sync,
        )
        .post(
            "/api/v1/integrations/shopify/{brand_id}/orders",
            webhooks::shopify_order,
        )
        .post(
            "/api/v1/integrations/shopify/{brand_id}/refunds",
            webhooks::shopify_refund,
        )
        .post(
            "/api/v1/integrations/woocommerce/{brand_id}/orders",
            webhooks::woocommerce_order,
        );
    t.post("/api/v1/webhooks", hooks::create_webhook)
        .get("/api/v1/webhooks", hooks::list_webhooks)
        .get("/api/v1/webhooks/{webhook_id}", hooks::get_webhook)
        .patch("/api/v1/webhooks/{webhook_id}", hooks::update_webhook)
        .delete("/api/v1/webhooks/{webhook_id}", hooks::delete_webhook)
        .get(
            "/api/v1/webhooks/{webhook_id}/deliveries",
            hooks::list_deliveries,
        )
        .post(
            "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
            hooks::redeliver,
        )
        .post("/api/v1/webhooks/{webhook_id}/ping", hooks::ping);
    t.get(
        "/api/v1/campaigns/{campaign_id}/leaderboard",
        reports::leaderboard,
    )
    .get("/api/v1/campaigns/{campaign_id}/report", reports::report)
    .get(
        "/api/v1/campaigns/{campaign_id}/timeseries",
        reports::timeseries,
    )
    .get("/api/v1/campaigns/{campaign_id}/funnel", reports::funnel)
    .get("/api/v1/campaigns/{campaign_id}/flags", reports::flags)
    .post(
        "/api/v1/campaigns/{campaign_id}/influencers/{influencer_id}/posts",
        reports::upsert_post,
    )
    .post("/api/v1/campaigns/{campaign_id}/costs", costs::create_cost)
    .get("/api/v1/campaigns/{campaign_id}/costs", costs::list_costs)
    .patch(
        "/api/v1/campaigns/{campaign_id}/costs/{cost_id}",
        costs::update_cost,
    )
    .delete(
        "/api/v1/campaigns/{campaign_id}/costs/{cost_id}",
        costs::delete_cost,
    )
    .post(
        "/api/v1/campaigns/{campaign_id}/exclusions",
        exclusions::create_exclusion,
    )
    .get(
        "/api/v1/campaigns/{campaign_id}/exclusions",
        exclusions::list_exclusions,
    )
    .delete(
        "/api/v1/campaigns/{campaign_id}/exclusions/{exclusion_id}",
        exclusions::delete_exclusion,
    );
    t.post(
        "/api/v1/campaigns/{campaign_id}/prune",
        campaign_loop::prune,
    )
    .get(
        "/api/v1/campaigns/{campaign_id}/prune-log",
        campaign_loop::prune_log,
    )
    .post(
        "/api/v1/campaigns/{campaign_id}/influencers/{influencer_id}/reinstate",
        campaign_loop::reinstate,
    );
    t.get(
        "/api/v1/campaigns/{campaign_id}/payouts",
        campaign_loop::list_payouts,
    )
    .post(
        "/api/v1/campaigns/{campaign_id}/payouts/{influencer_id}/mark-paid",
        campaign_loop::mark_paid,
    )
    .get("/api/v1/me", campaign_loop::me);
    t.post(
        "/api/v1/campaigns/{campaign_id}/successor",
        campaign_loop::successor,
    );
    t.get("/t.js", ops::tracking_script)
        .get("/api/v1/openapi.yaml", docs::openapi_yaml)
        .get("/api/v1/openapi.json", docs::openapi_json)
        .get("/api/docs", docs::api_docs);
    t.get("/", dashboard::root)
        .get("/favicon.ico", dashboard::favicon);
    t.get("/dashboard", dashboard::home)
        .get("/dashboard/app.css", dashboard::css)
        .get("/dashboard/app.js", dashboard::js)
        .get("/dashboard/login", dashboard::login_page)
        .post("/dashboard/login", dashboard::login)
        .post("/dashboard/logout", dashboard::logout)
        .get("/dashboard/me", dashboard::me)
        .get("/dashboard/store", dashboard::store::page)
        .post("/dashboard/store/{platform}", dashboard::store::connect)
        .post("/dashboard/store/{platform}/check", dashboard::store::check)
        .post(
            "/dashboard/store/{platform}/sync/{job_id}/retry",
            dashboard::store::retry,
        )
        .get("/dashboard/influencers", dashboard::setup::influencers)
        .post("/dashboard/influencers", dashboard::setup::add_influencer)
        .post(
            "/dashboard/influencers/import",
            dashboard::setup::import_influencers,
        )
        .get("/dashboard/keys", dashboard::setup::keys)
        .post("/dashboard/keys", dashboard::setup::create_key)
        .post(
            "/dashboard/keys/{key_id}/revoke",
            dashboard::setup::revoke_key,
        )
        .get("/dashboard/campaigns/new", dashboard::setup::new_campaign)
        .post("/dashboard/campaigns", dashboard::setup::create_campaign)
        .get("/dashboard/campaigns/{campaign_id}", dashboard::campaign)
        .get(
            "/dashboard/campaigns/{campaign_id}/edit",
            dashboard::setup::edit_campaign,
        )
        .post(
            "/dashboard/campaigns/{campaign_id}/edit",
            dashboard::setup::update_campaign,
        )
        .get(
            "/dashboard/campaigns/{campaign_id}/enroll",
            dashboard::setup::enroll_form,
        )
        .post(
            "/dashboard/campaigns/{campaign_id}/enroll",
            dashboard::setup::enroll,
        )
        .get(
            "/dashboard/campaigns/{campaign_id}/costs",
            dashboard::costs::page,
        )
        .post(
            "/dashboard/campaigns/{campaign_id}/costs",
            dashboard::costs::add,
        )
        .post(
            "/dashboard/campaigns/{campaign_id}/costs/{cost_id}/delete",
            dashboard::costs::delete,
        )
        .get(
            "/dashboard/campaigns/{campaign_id}/exclusions",
            dashboard::exclusions::page,
        )
        .post(
            "/dashboard/campaigns/{campaign_id}/exclusions",
            dashboard::exclusions::add,
        )
        .post(
            "/dashboard/campaigns/{campaign_id}/exclusions/{exclusion_id}/delete",
            dashboard::exclusions::delete,
        )
        .get(
            "/dashboard/campaigns/{campaign_id}/posts",
            dashboard::setup::posts,
        )
        .post(
            "/dashboard/campaigns/{campaign_id}/posts",
            dashboard::setup::save_post,
        )
        .post(
            "/dashboard/campaigns/{campaign_id}/posts/import",
            dashboard::setup::import_posts,
        )
        .get(
            "/dashboard/campaigns/{campaign_id}/successor",
            dashboard::successor_form,
        )
        .post(
            "/dashboard/campaigns/{campaign_id}/successor",
            dashboard::successor,
        )
        .get(
            "/dashboard/campaigns/{campaign_id}/payouts",
            dashboard::payouts,
        )
        .get(
            "/dashboard/campaigns/{campaign_id}/payouts.csv",
            dashboard::payouts_csv,
        )
        .post(
            "/dashboard/campaigns/{campaign_id}/payouts/{influencer_id}/mark-paid",
            dashboard::mark_paid,
        )
        .get(
            "/dashboard/campaigns/{campaign_id}/leaderboard.csv",
            dashboard::leaderboard_csv,
        )
        .post("/dashboard/campaigns/{campaign_id}/prune", dashboard::prune)
        .get(
            "/dashboard/campaigns/{campaign_id}/influencers/{influencer_id}",
            dashboard::influencer,
        )
        .post(
            "/dashboard/campaigns/{campaign_id}/influencers/{influencer_id}/reinstate",
            dashboard::reinstate,
        )
        .post(
            "/dashboard/campaigns/{campaign_id}/influencers/{influencer_id}/links",
            dashboard::setup::add_link,
        );
    t
}

/// The metrics listener's routes (`INFLUTRACK_METRICS_BIND`, never the public port).
pub fn metrics_routes() -> RouteTable {
    let mut t = RouteTable::default();
    t.get("/metrics", ops::metrics);
    t
}

/// The answer to any path no route serves.
pub async fn unknown_route(req: actix_web::HttpRequest) -> HttpResponse {
    // People browse the dashboard: a page, not problem+json.
    if req.path().starts_with("/dashboard")
        && matches!(
            *req.method(),
            actix_web::http::Method::GET | actix_web::http::Method::HEAD
        )
    {
        return dashboard::not_found_page();
    }
    problem_response(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "no such route".into(),
        None,
    )
}
